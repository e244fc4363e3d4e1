using System.Globalization;
using System.Text;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// One format's whole MoE program in a <see cref="GpuDialect"/>: the same sections in the same order for OpenCL C and
/// MSL (the dialect's prologue, the format's block constants and tables, the geometry defaults, activation and row sum,
/// the per-format decode helpers, the format kernels, dequantization, and the format-independent routing, grouping and
/// combine), optionally followed by the generator's dense mat-vec entry point.
/// </summary>
internal static class GpuMoeProgram
{
    /// <summary>Program name of a format, shape-generic or specialized for one weight matrix shape (both backends).</summary>
    public static string Name(FormatKernel format, MatrixShape? shape) =>
        shape is null ? $"ferrum_moe_{format.Name}" : $"ferrum_moe_{format.Name}_{shape.Suffix}";

    /// <summary>The program text.</summary>
    /// <param name="d">Dialect.</param>
    /// <param name="format">Weight format.</param>
    /// <param name="shape">Weight matrix shape (rows × row length: gate/up F×H, down H×F) to bake in; null: sizes from
    /// the kernel arguments (OpenCL) or the argument block (MSL), so the host launches both the same way.</param>
    /// <param name="header">First comment line(s), naming the dialect's language version.</param>
    /// <param name="dense">The dense entry point: its name and the rows, row length and batch it is specialized for
    /// (rows 0: sizes as arguments).</param>
    public static string Print(GpuDialect d, FormatKernel format, MatrixShape? shape, string header, (string Entry, int Rows, int RowLength, int Batch)? dense = null)
    {
        var f = format.Name;
        var sb = new StringBuilder();
        sb.Append("// Ferrum MoE kernels for ").Append(f).Append(shape is null ? " (shape-generic)" : " specialized for " + shape.Suffix)
            .Append(".\n").Append(header);
        sb.Append(d.ProgramPrologue);
        sb.Append("#define QK ").Append(Int(format.BlockElements)).Append("   // elements per block\n")
            .Append("#define BB ").Append(Int(format.BlockBytes)).Append("   // bytes per block\n")
            .Append("#define UNIT ").Append(Int(GpuFormatHelpers.UnitElements(format))).Append("   // elements a thread reduces at a time (one sub-block)\n");

        // Rows and row length of the weight matrix a launch reads: baked in, or read where the dialect passes sizes.
        var (rows, k, experts, topk) = d.SizeSource;
        if (shape is null)
        {
            sb.Append("// Shape-generic: the weight matrix shape of each launch is passed in.\n")
                .Append("#define N_ROWS ").Append(rows).Append("\n#define N_K ").Append(k).Append('\n');
        }
        else
        {
            sb.Append("// Specialized for ").Append(Int(shape.Rows)).Append(" rows of ").Append(Int(shape.RowLength))
                .Append(" elements (the size arguments are ignored).\n")
                .Append("#define N_ROWS ").Append(Int(shape.Rows)).Append("\n#define N_K ").Append(Int(shape.RowLength)).Append('\n');
        }

        sb.Append("#define N_E ").Append(experts).Append("\n#define N_TOPK ").Append(topk).Append("\n\n");
        foreach (var t in format.Tables)
        {
            sb.Append(d.Constant).Append(" int ").Append(t.Name).Append('[').Append(Int(t.Values.Count)).Append("] = { ")
                .Append(string.Join(", ", t.Values)).Append(" };\n");
        }

        sb.Append(Render(GpuFormatTemplates.Preamble, d, f));
        sb.Append(GpuFormatHelpers.Print(d, format));
        foreach (var template in new[] { GpuFormatTemplates.GateUpVecTemplate, GpuFormatTemplates.DownVecTemplate, GpuFormatTemplates.GateUpTileTemplate, GpuFormatTemplates.DownTileTemplate })
        {
            sb.Append(Render(template, d, f));
        }

        sb.Append(GpuMoeTemplates.Dequant(d, f));
        sb.Append("// Format-independent kernels: every program carries them, so one program per format is all a host builds.\n");
        sb.Append(d.RouteDefaults);
        sb.Append(GpuMoeTemplates.FormatIndependent(d));
        if (dense is { } entry)
        {
            var generic = entry.Rows == 0;
            sb.Append("\n// Sizes of the dense entry point: ").Append(generic ? "arguments.\n" : "baked in.\n")
                .Append("#define D_ROWS ").Append(generic ? "rows_arg" : Int(entry.Rows)).Append('\n')
                .Append("#define D_ROW_LENGTH ").Append(generic ? "row_length_arg" : Int(entry.RowLength)).Append('\n')
                .Append("#define D_BATCH ").Append(generic ? "batch_arg" : Int(entry.Batch)).Append('\n');
            sb.Append(RenderDense(d, f, entry.Entry, generic));
        }

        return sb.ToString();
    }

    /// <summary>A format kernel template in <paramref name="d"/> for format <paramref name="format"/>.</summary>
    public static string Render(string template, GpuDialect d, string format) => GpuMoeTemplates.Render(template, d).Replace("{F}", format);

    /// <summary>The dense entry point <paramref name="entry"/>, with size parameters when <paramref name="generic"/>.</summary>
    public static string RenderDense(GpuDialect d, string format, string entry, bool generic) =>
        Render(GpuFormatTemplates.DenseTemplate, d, format)
            .Replace("{DENSE_SIZES}", generic ? d.DenseSizeParameters : string.Empty)
            .Replace("{ENTRY}", entry);

    private static string Int(int v) => v.ToString(CultureInfo.InvariantCulture);
}
