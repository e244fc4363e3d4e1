extern alias Generators;

using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Ferrum.Backends.Metal;
using Ferrum.Generators.Tests.MetalCheck;
using Ferrum.Quantization;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using GenType = Generators::Ferrum.Quantization.GgmlType;
using Printer = Generators::Ferrum.Generators.Emit.Metal.MetalMoePrinter;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// The runtime's Metal host code and the generated MSL agree: the argument block's layout, the kernel names, the
/// buffer index of every parameter the host binds, and the #defines the host prepends.
/// </summary>
public sealed partial class MetalHostContractTests
{
    [Fact]
    public void The_argument_block_has_the_same_fields_in_the_same_order_and_size()
    {
        var src = Printer.PrintFormatProgram(FormatKernels.Get(GenType.Q4_K), null);
        var body = StructRegex().Match(src);
        Assert.True(body.Success, "struct ferrum_moe_args not found");
        var msl = FieldRegex().Matches(body.Groups[1].Value).Select(m => (Type: m.Groups[1].Value, Name: Pascal(m.Groups[2].Value))).ToList();
        var host = typeof(MetalMoeArgs).GetFields(BindingFlags.Public | BindingFlags.Instance)
            .Select(f => (Type: CType(f.FieldType), f.Name)).ToList();
        Assert.Equal(msl, host);
        Assert.Equal(Printer.ArgsBytes, Unsafe.SizeOf<MetalMoeArgs>());
        Assert.Contains($"sizeof(ferrum_moe_args) == {Printer.ArgsBytes}", src);
    }

    [Fact]
    public void Every_kernel_the_host_dispatches_exists_with_the_buffer_indices_the_host_binds()
    {
        foreach (var f in FormatKernels.All)
        {
            var src = Printer.PrintFormatProgram(f, null);
            var type = (GgmlType)(uint)f.Type;
            var shared = new MetalSharedExpert(128, type, type);
            foreach (var step in Enum.GetValues<MetalMoeStep>())
            {
                var function = MetalMoePlan.Function(step, type, type, shared);
                var buffers = BufferParameters(src, function);
                Assert.Equal(SharedRename(MetalMoePlan.Bindings(step)), buffers);
            }
        }
    }

    [Fact]
    public void Programs_pass_the_check_with_the_host_defines_in_front()
    {
        var q4k = FormatKernels.Get(GenType.Q4_K);
        var mxfp4 = FormatKernels.Get(GenType.MXFP4);
        var (ok, report) = MetalSourceCheck.Check(
        [
            ("host_q4_K", MetalMoePlan.Defines(false) + Printer.PrintFormatProgram(q4k, null)),
            ("host_mxfp4_oai", MetalMoePlan.Defines(true) + Printer.PrintFormatProgram(mxfp4, null)),
        ]);
        Assert.True(ok, report);
    }

    /// <summary>
    /// The shared-expert steps bind the shared expert's buffers to the mat-vec kernels' parameters: the host's names,
    /// mapped back to the parameters they fill.
    /// </summary>
    private static List<string> SharedRename(IReadOnlyList<string> bindings) => bindings.Select(n => n switch
    {
        "shared_gate" => "gate",
        "shared_up" => "up",
        "shared_down" => "down",
        "zero_ids" => "ids",
        "shared_act" => "act",
        "shared_w" when bindings.Contains("shared_down") => "weights",
        _ => n,
    }).ToList();

    /// <summary>Parameter names of a kernel's [[buffer(i)]] parameters, by index.</summary>
    private static List<string> BufferParameters(string src, string function)
    {
        var start = src.IndexOf($"kernel void {function}(", StringComparison.Ordinal);
        Assert.True(start >= 0, $"kernel {function} not found");
        var end = src.IndexOf("\n{", start, StringComparison.Ordinal);
        var byIndex = new SortedDictionary<int, string>();
        foreach (Match m in BufferParamRegex().Matches(src[start..end]))
        {
            byIndex.Add(int.Parse(m.Groups[2].Value), m.Groups[1].Value);
        }

        Assert.Equal(Enumerable.Range(0, byIndex.Count), byIndex.Keys);
        return [.. byIndex.Values];
    }

    private static string Pascal(string snake) =>
        string.Concat(snake.Split('_').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    private static string CType(Type t) =>
        t == typeof(ulong) ? "ulong" : t == typeof(int) ? "int" : t == typeof(float) ? "float" : t.Name;

    [GeneratedRegex(@"struct ferrum_moe_args\s*\{(.*?)\};", RegexOptions.Singleline)]
    private static partial Regex StructRegex();

    [GeneratedRegex(@"^\s*(ulong|int|float)\s+([a-z_0-9]+);", RegexOptions.Multiline)]
    private static partial Regex FieldRegex();

    [GeneratedRegex(@"([A-Za-z_]\w*)\s*\[\[buffer\((\d+)\)\]\]")]
    private static partial Regex BufferParamRegex();
}
