using System.Globalization;
using System.Text;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// The per-format device functions the format kernels call, printed once for both GPU dialects from the format's
/// expression tree (lets per block, sub-block and element; Quant, Scale, Offset): the dialect supplies the address
/// spaces, the inline qualifier and the expression printer (loads, bit casts). A row is
/// <c>row_length / QK</c> blocks of BB bytes; a unit is UNIT elements inside one sub-block (one scale and offset).
/// </summary>
internal static class GpuFormatHelpers
{
    /// <summary>Elements a thread reduces at a time: one sub-block (shared scale), 32 for unquantized formats.</summary>
    public static int UnitElements(FormatKernel format) => format.IsPlainFloat ? 32 : format.SubBlockElements;

    /// <summary><c>ferrum_unit_dot_{F}</c>, <c>ferrum_unit_decode_{F}</c> and <c>ferrum_decode_{F}</c> in <paramref name="d"/>.</summary>
    public static string Print(GpuDialect d, FormatKernel format)
    {
        var sb = new StringBuilder();
        UnitDot(sb, d, format);
        UnitDecode(sb, d, format);
        Decode(sb, d, format);
        return sb.ToString();
    }

    /// <summary>Scale·Σq·x + Offset·Σx over UNIT elements, x read from device memory.</summary>
    private static void UnitDot(StringBuilder sb, GpuDialect d, FormatKernel format)
    {
        var p = d.ExprPrinter("b", "i", "s", "");
        sb.Append("// Partial dot of the UNIT elements from k0 (a multiple of UNIT: one sub-block) of a weight row with x:\n")
            .Append("// Scale*sum(q*x) + Offset*sum(x), the scale lets decoded once per unit.\n");
        sb.Append(d.Inline).Append(" float ferrum_unit_dot_").Append(format.Name)
            .Append("(const ").Append(d.Global).Append(" uchar* row, const int k0, const ").Append(d.Global).Append(" float* x)\n{\n");
        if (format.IsPlainFloat)
        {
            sb.Append("    float sq = 0.0f;\n    for (int j = 0; j < UNIT; j++)\n    {\n");
            sb.Append("        const ").Append(d.Global).Append(" uchar* b = row + (").Append(d.Size).Append(")(k0 + j) * BB;\n");
            sb.Append("        sq += ").Append(p.PrintQuantAsFloat(format)).Append(" * x[k0 + j];\n    }\n    return sq;\n}\n\n");
            return;
        }

        BlockLets(sb, d, p, format, "k0", "i0");
        var hasOffset = format.Offset is not null;
        sb.Append("    float sq = 0.0f;\n");
        if (hasOffset)
        {
            sb.Append("    float sx = 0.0f;\n");
        }

        sb.Append("    for (int j = 0; j < UNIT; j++)\n    {\n        const int i = i0 + j;\n");
        sb.Append(p.PrintLets(format, DecodeScope.Element, "        "));
        sb.Append("        const float xv = x[k0 + j];\n");
        sb.Append("        sq += ").Append(p.PrintQuantAsFloat(format)).Append(" * xv;\n");
        if (hasOffset)
        {
            sb.Append("        sx += xv;\n");
        }

        sb.Append("    }\n    return ").Append(p.Print(format.Scale)).Append(" * sq");
        if (hasOffset)
        {
            sb.Append(" + ").Append(p.Print(format.Offset!)).Append(" * sx");
        }

        sb.Append(";\n}\n\n");
    }

    /// <summary>UNIT consecutive elements from k0 (one sub-block) into work-group memory: the prefill tiles' staging.</summary>
    private static void UnitDecode(StringBuilder sb, GpuDialect d, FormatKernel format)
    {
        var p = d.ExprPrinter("b", "i", "s", "");
        sb.Append("// Elements k0 .. k0+UNIT of a weight row (k0 a multiple of UNIT: one sub-block) into work-group memory.\n");
        sb.Append(d.Inline).Append(" void ferrum_unit_decode_").Append(format.Name)
            .Append("(const ").Append(d.Global).Append(" uchar* row, const int k0, ").Append(d.Local).Append(" float* out)\n{\n");
        if (format.IsPlainFloat)
        {
            sb.Append("    for (int j = 0; j < UNIT; j++)\n    {\n");
            sb.Append("        const ").Append(d.Global).Append(" uchar* b = row + (").Append(d.Size).Append(")(k0 + j) * BB;\n");
            sb.Append("        out[j] = ").Append(p.PrintValue(format)).Append(";\n    }\n}\n\n");
            return;
        }

        BlockLets(sb, d, p, format, "k0", "i0");
        sb.Append("    const float scale = ").Append(p.Print(format.Scale)).Append(";\n");
        if (format.Offset is not null)
        {
            sb.Append("    const float offset = ").Append(p.Print(format.Offset)).Append(";\n");
        }

        sb.Append("    for (int j = 0; j < UNIT; j++)\n    {\n        const int i = i0 + j;\n");
        sb.Append(p.PrintLets(format, DecodeScope.Element, "        "));
        sb.Append("        out[j] = scale * ").Append(p.PrintQuantAsFloat(format)).Append(format.Offset is null ? ";\n" : " + offset;\n");
        sb.Append("    }\n}\n\n");
    }

    /// <summary>One element: the dequantization kernel and the dense entry point's tail.</summary>
    private static void Decode(StringBuilder sb, GpuDialect d, FormatKernel format)
    {
        var p = d.ExprPrinter("b", "i", "s", "");
        sb.Append("// Element k of a weight row.\n");
        sb.Append(d.Inline).Append(" float ferrum_decode_").Append(format.Name)
            .Append("(const ").Append(d.Global).Append(" uchar* row, const int k)\n{\n");
        sb.Append("    const ").Append(d.Global).Append(" uchar* b = row + (").Append(d.Size).Append(")(k / QK) * BB;\n");
        if (format.Uses(IndexVar.Element) || format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int i = k % QK;\n");
        }

        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = i / ").Append(format.SubBlockElements.ToString(CultureInfo.InvariantCulture)).Append(";\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.Element, "    "));
        sb.Append("    return ").Append(p.PrintValue(format)).Append(";\n}\n\n");
    }

    /// <summary>The block pointer b, the in-block index of the unit's first element and the block and sub-block lets.</summary>
    private static void BlockLets(StringBuilder sb, GpuDialect d, CLikeExprPrinter p, FormatKernel format, string k0, string i0)
    {
        sb.Append("    const ").Append(d.Global).Append(" uchar* b = row + (").Append(d.Size).Append(")(").Append(k0).Append(" / QK) * BB;\n");
        sb.Append("    const int ").Append(i0).Append(" = ").Append(k0).Append(" % QK;\n");
        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = ").Append(i0).Append(" / ").Append(format.SubBlockElements.ToString(CultureInfo.InvariantCulture)).Append(";\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
    }
}
