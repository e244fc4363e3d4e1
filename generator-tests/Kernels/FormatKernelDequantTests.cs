extern alias Generators;
using System.Reflection;
using Basic.Reference.Assemblies;
using Ferrum.GgmlReference;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using GType = Generators::Ferrum.Quantization.GgmlType;
using Printer = Generators::Ferrum.Generators.Emit.Kernels.CSharpDequantPrinter;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// The per-format kernel descriptions, printed as scalar C# and compiled, decode exactly like ggml's to_float: on
/// ggml-quantized data and on random bytes (which reach every bit pattern: Q3_K hmask, MXFP4 denormal scales).
/// </summary>
public sealed class FormatKernelDequantTests
{
    private static readonly Lazy<Dictionary<GType, MethodInfo>> Compiled = new(CompileAll);

    public static TheoryData<string> Formats()
    {
        var data = new TheoryData<string>();
        foreach (var f in FormatKernels.All)
        {
            data.Add(f.Name);
        }

        return data;
    }

    [Fact]
    public void Every_format_the_gpu_path_promises_is_described()
    {
        string[] required = ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"];
        Assert.Equal(required.OrderBy(x => x), FormatKernels.All.Select(f => f.Name).OrderBy(x => x));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Printed_dequant_matches_ggml_to_float_on_quantized_data(string name)
    {
        var format = FormatKernels.All.Single(f => f.Name == name);
        const int rowLength = 512;
        var values = GgmlReferenceData.RandomFloats(rowLength * 3, seed: (int)format.Type);
        var bytes = GgmlReferenceData.Quantize((int)format.Type, values, rowLength);
        AssertSameAsGgml(format.Type, bytes, values.Length);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Printed_dequant_matches_ggml_to_float_on_random_bytes(string name)
    {
        var format = FormatKernels.All.Single(f => f.Name == name);
        var blocks = 64;
        var bytes = new byte[blocks * format.BlockBytes];
        new Random(17 + (int)format.Type).NextBytes(bytes);
        AssertSameAsGgml(format.Type, bytes, blocks * format.BlockElements);
    }

    [Fact]
    public void A_wrong_description_is_caught()
    {
        // Guard against a test that cannot fail: Q4_0's decode read at the wrong offset must differ from ggml.
        var values = GgmlReferenceData.RandomFloats(256, seed: 5);
        var bytes = GgmlReferenceData.Quantize((int)GType.Q4_0, values, 256);
        var expected = GgmlReferenceData.ToFloat((int)GType.Q4_0, bytes, 256);
        var shifted = bytes.Skip(1).Append((byte)0).ToArray();
        var actual = Run(GType.Q4_0, shifted, 256);
        Assert.NotEqual(expected, actual);
    }

    private static void AssertSameAsGgml(GType type, byte[] bytes, int count)
    {
        var expected = GgmlReferenceData.ToFloat((int)type, bytes, count);
        var actual = Run(type, bytes, count);
        for (var i = 0; i < count; i++)
        {
            var same = BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])
                || (float.IsNaN(expected[i]) && float.IsNaN(actual[i]));
            Assert.True(same, $"{type} element {i}: ggml {expected[i]:R}, printed description {actual[i]:R}");
        }
    }

    private static float[] Run(GType type, byte[] bytes, int count)
    {
        var y = new float[count];
        Compiled.Value[type].Invoke(null, [bytes, y, count]);
        return y;
    }

    private static Dictionary<GType, MethodInfo> CompileAll()
    {
        var trees = FormatKernels.All.Select(f => CSharpSyntaxTree.ParseText(Printer.Print(f, "Dequant_" + f.Name), new CSharpParseOptions(LanguageVersion.Latest))).ToList();
        var compilation = CSharpCompilation.Create(
            "PrintedDequant",
            trees,
            Net100.References.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, optimizationLevel: OptimizationLevel.Release));
        using var ms = new MemoryStream();
        var emit = compilation.Emit(ms);
        var errors = emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(emit.Success, "printed C# does not compile:\n" + string.Join("\n", errors));
        var asm = Assembly.Load(ms.ToArray());
        return FormatKernels.All.ToDictionary(f => f.Type, f => asm.GetType("Ferrum.Printed.Dequant_" + f.Name)!.GetMethod("DequantizeRow")!);
    }
}
