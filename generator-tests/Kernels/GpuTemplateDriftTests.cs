extern alias Generators;

using System.Text.RegularExpressions;
using Dialect = Generators::Ferrum.Generators.Emit.Kernels.GpuDialect;
using FormatTemplates = Generators::Ferrum.Generators.Emit.Kernels.GpuFormatTemplates;
using Helpers = Generators::Ferrum.Generators.Emit.Kernels.GpuFormatHelpers;
using Program = Generators::Ferrum.Generators.Emit.Kernels.GpuMoeProgram;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using MatrixShape = Generators::Ferrum.Generators.Emit.Kernels.MatrixShape;
using MetalPrinter = Generators::Ferrum.Generators.Emit.Metal.MetalMoePrinter;
using OpenCLPrinter = Generators::Ferrum.Generators.Emit.Kernels.OpenCLMoePrinter;
using Templates = Generators::Ferrum.Generators.Emit.Kernels.GpuMoeTemplates;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// Drift check of the kernels written once for both GPU dialects (GpuMoeTemplates: routing, grouping, combine,
/// dequantization; GpuFormatTemplates: the gate||up and down mat-vecs, the prefill tiles, the dense entry point):
/// each of them, found by name in every emitted OpenCL and MSL program, has exactly the token stream of its one
/// template with that dialect's values in the placeholders, so the two programs' copies differ only where the
/// GpuDialect object says; the per-format decode helpers are the one GpuFormatHelpers rendering. A change that
/// reaches one dialect only (a printer that appends its own kernel text, or edits it) fails here.
/// </summary>
public sealed partial class GpuTemplateDriftTests
{
    private static readonly Dialect[] Dialects = [Dialect.OpenCL, Dialect.Metal];

    /// <summary>Each shared template with its kernel's name in each dialect and the head that names it.</summary>
    private static readonly (string Template, string OpenCL, string Metal, Func<Dialect, string> Head)[] Kernels =
    [
        (Templates.RouteTemplate, "ferrum_moe_route", "kernel_moe_route", d => d.RouteHead),
        (Templates.GroupTemplate, "ferrum_moe_group", "kernel_moe_map0", d => d.GroupHead),
        (Templates.CombineTemplate, "ferrum_moe_combine", "kernel_moe_combine", d => d.CombineHead),
        (Templates.DequantTemplate, "ferrum_dequant_{F}", "kernel_moe_dequant_{F}", d => d.DequantHead),
        (FormatTemplates.GateUpVecTemplate, "ferrum_moe_gate_up_vec_{F}", "kernel_moe_mv_id_gate_up_{F}", d => d.GateUpVecHead),
        (FormatTemplates.DownVecTemplate, "ferrum_moe_down_vec_{F}", "kernel_moe_mv_id_down_{F}", d => d.DownVecHead),
        (FormatTemplates.GateUpTileTemplate, "ferrum_moe_gate_up_tile_{F}", "kernel_moe_mm_id_gate_up_{F}", d => d.GateUpTileHead),
        (FormatTemplates.DownTileTemplate, "ferrum_moe_down_tile_{F}", "kernel_moe_mm_id_down_{F}", d => d.DownTileHead),
    ];

    /// <summary>The per-format helper functions, each a whole function in the helpers' rendering.</summary>
    private static readonly string[] HelperNames = ["ferrum_unit_dot_{F}", "ferrum_unit_decode_{F}", "ferrum_decode_{F}"];

    /// <summary>Every OpenCL and MSL program: each format generic and specialized for one gate/up shape.</summary>
    private static IEnumerable<(string Name, string Source, Dialect Dialect, string Format)> Programs()
    {
        foreach (var f in FormatKernels.All)
        {
            foreach (var shape in new MatrixShape?[] { null, new MatrixShape(512, 1024) })
            {
                yield return (OpenCLPrinter.ProgramName(f, shape), OpenCLPrinter.PrintFormatProgram(f, shape), Dialect.OpenCL, f.Name);
                if (shape is null || MetalPrinter.Fits(f, shape.Rows, shape.RowLength))
                {
                    yield return (MetalPrinter.ProgramName(f, shape), MetalPrinter.PrintFormatProgram(f, shape), Dialect.Metal, f.Name);
                }
            }
        }
    }

    [Fact]
    public void Every_programs_shared_kernels_are_the_one_template_in_its_dialect()
    {
        var checkedPrograms = 0;
        foreach (var (name, source, dialect, format) in Programs())
        {
            foreach (var k in Kernels)
            {
                var kernel = (dialect == Dialect.OpenCL ? k.OpenCL : k.Metal).Replace("{F}", format);
                var problem = Drift(source, dialect, k.Template, kernel, k.Head(dialect).Replace("{F}", format), format);
                Assert.True(problem is null, $"{name} ({dialect.Name}): {problem}");
            }

            foreach (var helper in HelperNames)
            {
                var fn = helper.Replace("{F}", format);
                var expected = FunctionTokens(Tokens(Helpers.Print(dialect, FormatKernels.All.Single(f => f.Name == format))), fn);
                Assert.True(expected.SequenceEqual(FunctionTokens(Tokens(source), fn)), $"{name} ({dialect.Name}): {fn} is not the GpuFormatHelpers rendering");
            }

            checkedPrograms++;
        }

        // 16 formats × (generic + specialized) OpenCL programs, and at least the 16 generic MSL ones.
        Assert.True(checkedPrograms >= 48, $"only {checkedPrograms} programs checked");
    }

    [Fact]
    public void Every_dense_entry_point_is_the_one_template_in_its_dialect()
    {
        foreach (var f in FormatKernels.All)
        {
            var entry = $"ferrum_dense_{f.Name}";
            foreach (var generic in new[] { true, false })
            {
                var shape = generic ? null : new MatrixShape(512, 1024);
                var programs = new (Dialect Dialect, string Source)[]
                {
                    (Dialect.OpenCL, OpenCLPrinter.PrintFormatProgram(f, shape, entry, 4)),
                    (Dialect.Metal, MetalPrinter.PrintGeneratorProgram(f, shape?.Rows ?? 0, shape?.RowLength ?? 0, 4, entry)),
                };
                foreach (var (dialect, source) in programs)
                {
                    var rendered = Program.RenderDense(dialect, f.Name, entry, generic);
                    var problem = Drift(source, rendered, entry, rendered.Split('{')[0]);
                    Assert.True(problem is null, $"{f.Name} dense ({dialect.Name}, {(generic ? "generic" : "specialized")}): {problem}");
                }
            }
        }
    }

    [Fact]
    public void The_two_dialects_renderings_differ_only_in_placeholders()
    {
        // Template tokens outside the placeholders, compared between the two renderings position by position.
        var all = Templates.All.Concat(FormatTemplates.All).ToList();
        var template = all.SelectMany(Tokens).ToList();
        var renderings = Dialects.Select(d => all.SelectMany(t => Tokens(Templates.Render(t, d))).ToList()).ToArray();
        var positions = new int[renderings.Length];
        var literal = 0;
        foreach (var token in template)
        {
            var placeholder = Templates.Placeholders.FirstOrDefault(p => p.Placeholder == token);
            for (var i = 0; i < renderings.Length; i++)
            {
                var expected = placeholder.Placeholder is null ? new List<string> { token } : Tokens(placeholder.Value(Dialects[i]));
                Assert.Equal(expected, renderings[i].Skip(positions[i]).Take(expected.Count));
                positions[i] += expected.Count;
            }

            literal += placeholder.Placeholder is null ? 1 : 0;
        }

        Assert.Equal(renderings.Select(r => r.Count), positions);
        Assert.True(literal > 2500, $"the templates have only {literal} shared tokens");
    }

    [Fact]
    public void The_template_holds_no_dialect_specific_token()
    {
        // Words that belong to one dialect only; they may appear in the dialect object, never in the shared text.
        string[] dialectWords =
        [
            "__kernel", "__global", "__local", "__attribute__", "barrier", "get_group_id", "get_local_id", "size_t",
            "kernel", "device", "threadgroup", "threadgroup_barrier", "mem_flags", "ulong", "args", "constant", "[[",
            "simd_sum", "simd_max", "simd_shuffle_xor", "tgpig", "tiitg", "tpitg", "gid", "get_global_id", "inline", "__private",
            "thread", "simdgroup_float8x8", "red",
        ];
        var shared = Templates.All.Concat(FormatTemplates.All).SelectMany(Tokens).ToList();
        foreach (var word in dialectWords)
        {
            Assert.DoesNotContain(word, shared);
        }
    }

    [Fact]
    public void A_change_that_reaches_one_dialect_only_is_caught()
    {
        var f = FormatKernels.All[0];
        var opencl = OpenCLPrinter.PrintFormatProgram(f, null);
        var metal = MetalPrinter.PrintFormatProgram(f, null);
        var route = Kernels[0];
        var combine = Kernels[2];
        Assert.Null(Drift(opencl, Dialect.OpenCL, route.Template, route.OpenCL, route.Head(Dialect.OpenCL)));
        Assert.Null(Drift(metal, Dialect.Metal, route.Template, route.Metal, route.Head(Dialect.Metal)));
        Assert.Null(Drift(metal, Dialect.Metal, combine.Template, combine.Metal, combine.Head(Dialect.Metal)));

        // A tie rule changed in the OpenCL text only, a renormalization floor changed in the MSL text only, and the
        // combine's bounds check dropped from the MSL text only.
        var plantedOpenCL = ReplaceOnce(opencl, "score > best_score", "score >= best_score");
        var plantedMetal = ReplaceOnce(metal, "6.103515625e-5f", "1e-6f");
        var plantedCombine = ReplaceOnce(metal, "if (hh >= h || t >= n_tokens)", "if (hh >= h)");
        Assert.NotNull(Drift(plantedOpenCL, Dialect.OpenCL, route.Template, route.OpenCL, route.Head(Dialect.OpenCL)));
        Assert.NotNull(Drift(plantedMetal, Dialect.Metal, route.Template, route.Metal, route.Head(Dialect.Metal)));
        Assert.NotNull(Drift(plantedCombine, Dialect.Metal, combine.Template, combine.Metal, combine.Head(Dialect.Metal)));

        // Format kernels: the down bias added by every lane in the MSL mat-vec only, the tile's K step changed in the
        // OpenCL prefill tile only, and a helper's sub-block index changed in one program only.
        var down = Kernels.Single(k => k.Template == FormatTemplates.DownVecTemplate);
        var tile = Kernels.Single(k => k.Template == FormatTemplates.GateUpTileTemplate);
        var name = f.Name;
        Assert.Null(Drift(metal, Dialect.Metal, down.Template, down.Metal.Replace("{F}", name), down.Head(Dialect.Metal).Replace("{F}", name), name));
        Assert.Null(Drift(opencl, Dialect.OpenCL, tile.Template, tile.OpenCL.Replace("{F}", name), tile.Head(Dialect.OpenCL).Replace("{F}", name), name));
        var plantedDown = ReplaceOnce(metal, "has_bias && lane == 0 ?", "has_bias ?");
        var plantedTile = ReplaceOnce(opencl, "k0 += FERRUM_KC)", "k0 += FERRUM_KC / 2)");
        Assert.NotNull(Drift(plantedDown, Dialect.Metal, down.Template, down.Metal.Replace("{F}", name), down.Head(Dialect.Metal).Replace("{F}", name), name));
        Assert.NotNull(Drift(plantedTile, Dialect.OpenCL, tile.Template, tile.OpenCL.Replace("{F}", name), tile.Head(Dialect.OpenCL).Replace("{F}", name), name));
        var helper = "ferrum_unit_dot_" + name;
        var plantedHelper = ReplaceOnce(opencl, "for (int j = 0; j < UNIT; j++)", "for (int j = 1; j < UNIT; j++)");
        Assert.True(FunctionTokens(Tokens(Helpers.Print(Dialect.OpenCL, f)), helper).SequenceEqual(FunctionTokens(Tokens(opencl), helper)));
        Assert.False(FunctionTokens(Tokens(Helpers.Print(Dialect.OpenCL, f)), helper).SequenceEqual(FunctionTokens(Tokens(plantedHelper), helper)));
    }

    /// <summary>Null when the kernel named <paramref name="kernel"/> in <paramref name="program"/> is <paramref name="template"/> in <paramref name="dialect"/>.</summary>
    private static string? Drift(string program, Dialect dialect, string template, string kernel, string head, string format = "") =>
        Drift(program, Templates.Render(template, dialect).Replace("{F}", format), kernel, head);

    /// <summary>Null when the kernel named <paramref name="kernel"/> in <paramref name="program"/> is the <paramref name="rendered"/> text.</summary>
    private static string? Drift(string program, string rendered, string kernel, string head)
    {
        var expected = KernelTokens(Tokens(rendered), head, kernel);
        var tokens = Tokens(program);
        if (tokens.Count(t => t == kernel) != 1)
        {
            return $"{kernel} is defined {tokens.Count(t => t == kernel)} times, not once";
        }

        var actual = KernelTokens(tokens, head, kernel);
        var n = Math.Min(expected.Count, actual.Count);
        for (var i = 0; i < n; i++)
        {
            if (expected[i] != actual[i])
            {
                return $"token {i} of {kernel} is '{actual[i]}' where the template says '{expected[i]}' (after '{string.Join(' ', actual.Skip(Math.Max(0, i - 8)).Take(Math.Min(8, i)))}')";
            }
        }

        return expected.Count == actual.Count ? null : $"{kernel} has {actual.Count} tokens, the template {expected.Count}";
    }

    /// <summary>The kernel's tokens: from the first token of its head to the brace that closes its body.</summary>
    private static List<string> KernelTokens(List<string> tokens, string head, string kernel)
    {
        var start = tokens.IndexOf(kernel) - Tokens(head).IndexOf(kernel);
        var open = tokens.IndexOf("{", start);
        var depth = 0;
        for (var i = open; i < tokens.Count; i++)
        {
            depth += tokens[i] == "{" ? 1 : tokens[i] == "}" ? -1 : 0;
            if (depth == 0)
            {
                return tokens.GetRange(start, i + 1 - start);
            }
        }

        throw new InvalidOperationException($"{kernel}: no closing brace");
    }

    /// <summary>A helper function's tokens: from its return type to the brace that closes its body.</summary>
    private static List<string> FunctionTokens(List<string> tokens, string name)
    {
        var at = tokens.IndexOf(name);
        Assert.True(at > 0, $"{name} not found");
        return KernelTokens(tokens, tokens[at - 1] + " " + name, name);
    }

    private static string ReplaceOnce(string s, string from, string to)
    {
        var i = s.IndexOf(from, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{from}' not found");
        return s[..i] + to + s[(i + from.Length)..];
    }

    /// <summary>C-family tokens without comments or whitespace; a <c>{NAME}</c> placeholder is one token.</summary>
    private static List<string> Tokens(string source) =>
        TokenRegex().Matches(CommentRegex().Replace(source, " ")).Select(m => m.Value).ToList();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentRegex();

    [GeneratedRegex(@"\{[A-Z_]+\}|[A-Za-z_]\w*|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?[fF]?|\[\[|\]\]|::|->|&&|\|\||\+\+|--|[<>=!+\-*/&|]=|<<|>>|\S")]
    private static partial Regex TokenRegex();
}
