using System.Text;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// Prints a scalar C# row dequantizer from a <see cref="FormatKernel"/>. It exists to prove the description: the
/// printed code is compiled and compared with ggml's to_float bit for bit (generator-tests). Not a fast path.
/// </summary>
internal sealed class CSharpDequantPrinter : CLikeExprPrinter
{
    private CSharpDequantPrinter()
        : base("b", "i", "s", "v_")
    {
    }

    protected override string LetQualifier => string.Empty;

    public override string TypeName(ExprType type) => type == ExprType.Int ? "int" : "float";

    /// <summary>
    /// A class <c>Ferrum.Printed.{ClassName}</c> with <c>static void DequantizeRow(byte[] src, float[] dst, int n)</c>
    /// decoding <c>n</c> elements (a multiple of the block size).
    /// </summary>
    public static string Print(FormatKernel format, string className)
    {
        var p = new CSharpDequantPrinter();
        var sb = new StringBuilder();
        sb.Append("namespace Ferrum.Printed;\n\n");
        sb.Append("public static unsafe class ").Append(className).Append("\n{\n");
        foreach (var t in format.Tables)
        {
            sb.Append("    private static readonly int[] ").Append(t.Name).Append(" = { ").Append(string.Join(", ", t.Values)).Append(" };\n");
        }

        sb.Append("    public static void DequantizeRow(byte[] src, float[] dst, int n)\n    {\n");
        sb.Append("        fixed (byte* src0 = src)\n        {\n");
        sb.Append("            for (int blk = 0; blk < n / ").Append(format.BlockElements).Append("; blk++)\n            {\n");
        sb.Append("                byte* b = src0 + (long)blk * ").Append(format.BlockBytes).Append(";\n");
        sb.Append(p.PrintLets(format, DecodeScope.Block, "                "));
        sb.Append("                for (int i = 0; i < ").Append(format.BlockElements).Append("; i++)\n                {\n");
        sb.Append("                    int s = i / ").Append(format.SubBlockElements).Append(";\n");
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "                    "));
        sb.Append(p.PrintLets(format, DecodeScope.Element, "                    "));
        sb.Append("                    dst[blk * ").Append(format.BlockElements).Append(" + i] = ").Append(p.PrintValue(format)).Append(";\n");
        sb.Append("                }\n            }\n        }\n    }\n}\n");
        return sb.ToString();
    }

    protected override string PrintLoad(LoadKind kind, string offset) => kind switch
    {
        LoadKind.U8 => $"((int)b[{offset}])",
        LoadKind.I8 => $"((int)(sbyte)b[{offset}])",
        LoadKind.F16 => $"((float)(*(System.Half*)(b + {offset})))",
        LoadKind.BF16 => $"System.BitConverter.Int32BitsToSingle((int)(*(ushort*)(b + {offset})) << 16)",
        _ => $"(*(float*)(b + {offset}))",
    };

    protected override string FloatLiteral(FloatConst value) => value.Text + "f";

    protected override string BitsToFloat(string bits) => $"System.BitConverter.Int32BitsToSingle({bits})";

    protected override string Compare(string op, string left, string right) => $"(({left}) {op} ({right}) ? 1 : 0)";
}
