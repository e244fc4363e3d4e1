using System.Globalization;
using System.Text;
using Ferrum.Generators.Models;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit;

/// <summary>Shared pieces of the OpenCL C and MSL reference kernels (the two languages differ only in qualifiers).</summary>
internal static class GpuKernelText
{
    /// <summary>The comment header every GPU kernel starts with.</summary>
    public static void Header(StringBuilder s, KernelItem kernel, string language)
    {
        var info = GgmlTypeInfo.Get(kernel.Format);
        s.Append("// Ferrum ").Append(language).Append(" kernel ").Append(kernel.KernelName).Append(" (generated from kernels.yaml).\n");
        s.Append("// output[b * rows + r] = dot(weight row r, input[b * row_length ..]); one work item per (row, token).\n");
        s.Append("// ").Append(info.Name).Append(" block: ").Append(info.BlockSize.ToString(CultureInfo.InvariantCulture))
            .Append(" weights in ").Append(info.TypeSize.ToString(CultureInfo.InvariantCulture))
            .Append(" bytes = an f16 scale d, then signed bytes q; weight i = d * q[i].\n");
        if (kernel.IsGeneric)
        {
            s.Append("// Shape-generic: rows, row_length and batch are arguments.\n");
        }
        else
        {
            s.Append("// Specialized: ").Append(kernel.Rows.ToString(CultureInfo.InvariantCulture)).Append(" rows of ")
                .Append(kernel.RowLength.ToString(CultureInfo.InvariantCulture)).Append(" elements, batch ")
                .Append(kernel.Batch.ToString(CultureInfo.InvariantCulture)).Append(".\n");
        }
    }

    public static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
