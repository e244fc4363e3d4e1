extern alias Generators;

using Ferrum.Generators.Tests.MetalCheck;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using MatrixShape = Generators::Ferrum.Generators.Emit.Kernels.MatrixShape;
using Printer = Generators::Ferrum.Generators.Emit.Metal.MetalMoePrinter;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// Every printed Metal program passes the Linux shader check (attribute allow-list + clang-15 C++17 type check against
/// the stand-in metal_stdlib), and the check catches planted errors of each kind it claims to catch.
/// </summary>
public sealed class MetalSourceTests
{
    private static readonly MatrixShape Qwen3GateUp = new(768, 2048);

    private static readonly MatrixShape Qwen3Down = new(2048, 768);

    /// <summary>Every format's program generic and specialized for Qwen3-30B-A3B's gate/up and down matrices.</summary>
    public static IEnumerable<(string Name, string Source)> AllPrograms()
    {
        foreach (var f in FormatKernels.All)
        {
            yield return (Printer.ProgramName(f, null), Printer.PrintFormatProgram(f, null));
            yield return (Printer.ProgramName(f, Qwen3GateUp), Printer.PrintFormatProgram(f, Qwen3GateUp));
            yield return (Printer.ProgramName(f, Qwen3Down), Printer.PrintFormatProgram(f, Qwen3Down));
        }

        // Non-default geometry and the gpt-oss activation branch (the host puts its #defines first).
        var mxfp4 = FormatKernels.All.Single(k => k.Name == "mxfp4");
        yield return ("mxfp4_oai_nr1_nsg4", "#define FERRUM_ACT_OAI 1\n#define FERRUM_NR 1\n#define FERRUM_RPG 4\n" + Printer.PrintFormatProgram(mxfp4, null));
    }

    [Fact]
    public void Every_program_passes_the_attribute_check_and_clang_type_check()
    {
        var programs = AllPrograms().ToList();
        Assert.Equal(1 + (3 * FormatKernels.All.Count), programs.Count);
        var (ok, report) = MetalSourceCheck.Check(programs);
        Assert.True(ok, "the Metal check rejected printed MSL:\n" + report);
    }

    [Fact]
    public void Every_format_program_has_the_moe_kernels()
    {
        foreach (var f in FormatKernels.All)
        {
            var src = Printer.PrintFormatProgram(f, Qwen3GateUp);
            foreach (var k in new[] { "kernel_moe_mv_id_gate_up_", "kernel_moe_mv_id_down_", "kernel_moe_mm_id_gate_up_", "kernel_moe_mm_id_down_", "kernel_moe_dequant_" })
            {
                Assert.Contains("kernel void " + k + f.Name + "(", src);
            }

            Assert.Contains("#define N_ROWS 768\n", src);
            Assert.Contains("#define N_K 2048\n", src);
            Assert.Contains("simd_sum(", src);
            Assert.Contains("threadgroup_barrier(mem_flags::mem_threadgroup)", src);
            Assert.DoesNotContain("#define N_ROWS (args.rows)", src);
            Assert.Contains("#define N_ROWS (args.rows)", Printer.PrintFormatProgram(f, null));
            foreach (var k in new[] { "kernel_moe_route", "kernel_moe_map0", "kernel_moe_combine" })
            {
                Assert.Contains("kernel void " + k + "(", src);
            }
        }
    }

    [Fact]
    public void A_shape_that_does_not_fit_the_blocks_is_refused()
    {
        var q4k = FormatKernels.All.Single(k => k.Name == "q4_K");
        var ex = Assert.Throws<ArgumentException>(() => Printer.PrintFormatProgram(q4k, new MatrixShape(2048, 1408)));
        Assert.Contains("multiple of 256", ex.Message);
        Assert.Throws<ArgumentException>(() => Printer.PrintFormatProgram(q4k, new MatrixShape(1000, 2048)));
    }

    /// <summary>Planted errors: (description, original text, replacement, fragment the report must contain).</summary>
    public static TheoryData<string, string, string, string> Planted() => new()
    {
        { "misspelled attribute", "[[thread_index_in_threadgroup]]", "[[thread_index_in_threadgrop]]", "unknown Metal attribute [[thread_index_in_threadgrop]]" },
        { "attribute on a wrong type", "ushort tiitg [[thread_index_in_threadgroup]]", "float tiitg [[thread_index_in_threadgroup]]", "cannot be given to a parameter of type 'float'" },
        { "attribute without its index", "[[buffer(5)]]", "[[buffer]]", "needs one integer index" },
        { "buffer index bound twice", "[[buffer(5)]]", "[[buffer(4)]]", "buffer index 4 is bound twice" },
        { "float4 assigned to a float", "float sx = 0.0f;", "float4 sx4 = 0.0f; float sx = sx4;", "float4" },
        { "undeclared built-in", "#define FERRUM_ROW_SUM(v) simd_sum(v)", "#define FERRUM_ROW_SUM(v) simd_summ(v)", "simd_summ" },
        { "missing semicolon", "const int t = pair / N_TOPK;", "const int t = pair / N_TOPK", "expected ';'" },
        { "device pointer where threadgroup memory is expected", "ferrum_unit_decode_q4_K(ubase + off, k0 + kk, &wu[rr][kk]);", "ferrum_unit_decode_q4_K(ubase + off, k0 + kk, act + kk);", "no matching function" },
        { "double arithmetic", "return g / (1.0f + exp(-g)) * u;", "return g / (1.0 + exp(-g)) * u;", "double" },
        { "threadgroup memory in a helper function", "static inline float ferrum_act(const float g, const float u)\n{\n", "static inline float ferrum_act(const float g, const float u)\n{\n    threadgroup float scratch[4];\n    scratch[0] = g;\n", "threadgroup variables may be declared only in a kernel function" },
        { "initialized threadgroup variable", "threadgroup float xs[FERRUM_TT][FERRUM_KC + 1];", "threadgroup float xs[FERRUM_TT][FERRUM_KC + 1] = { 0 };", "threadgroup variables cannot have initializers" },
        { "mixed int and float min", "(ulong)min(r0 + r, N_ROWS - 1)", "(ulong)min(r0 + r, 1.0f)", "ambiguous" },
    };

    [Theory]
    [MemberData(nameof(Planted))]
    public void The_check_catches_a_planted_error(string description, string original, string replacement, string expected)
    {
        var q4k = FormatKernels.All.Single(k => k.Name == "q4_K");
        var good = Printer.PrintFormatProgram(q4k, null);
        Assert.Contains(original, good);
        var index = good.IndexOf(original, StringComparison.Ordinal);
        var planted = string.Concat(good.AsSpan(0, index), replacement, good.AsSpan(index + original.Length));
        var (ok, report) = MetalSourceCheck.Check([("planted", planted)]);
        Assert.False(ok, $"planted error not caught: {description}");
        Assert.Contains(expected, report);
    }
}
