using System;
using System.Globalization;
using System.Text;
using Ferrum.Generators.Emit.Kernels;

namespace Ferrum.Generators.Emit.Metal;

/// <summary>
/// Prints Metal Shading Language MoE programs from the per-format descriptions. One program per weight format holds:
/// <list type="bullet">
/// <item><c>kernel_moe_mv_id_{fmt}</c>: ggml's mul_mv_id: grid z = token·top_k + slot, the expert id read from the ids
/// buffer, <c>FERRUM_NR0</c> rows per simdgroup, <c>FERRUM_NSG</c> simdgroups per threadgroup, simd_sum reduction.</item>
/// <item><c>kernel_moe_mv_id_gate_up_{fmt}</c>: the same dispatch over gate and up rows in one pass over x, writing
/// SiLU(gate)·up.</item>
/// <item><c>kernel_moe_mv_id_down_{fmt}</c>: one threadgroup row block per token looping over its slots, so the down
/// projection and the routing-weighted sum are one kernel.</item>
/// <item><c>kernel_moe_mm_id_gate_up_{fmt}</c>, <c>kernel_moe_mm_id_down_{fmt}</c>: batched prefill grouped by expert
/// (lists from <c>kernel_moe_map0</c>): 32 weight rows × 32 routed tokens per threadgroup, weights dequantized into
/// threadgroup memory, products on <c>simdgroup_float8x8</c> matrices.</item>
/// <item><c>kernel_moe_dequant_{fmt}</c>: plain dequantization.</item>
/// </list>
/// A program specialized for one weight matrix shape (rows × row length; gate/up F×H, down H×F, as the generator's
/// kernel items are) bakes it in as <c>constant constexpr int N_ROWS, N_K</c>; a generic one reads them from the
/// <c>ferrum_moe_args</c> constant buffer every kernel takes at index 0, so the host binds both the same way. Every
/// program also carries the format-independent kernels: <c>kernel_moe_route</c>, <c>kernel_moe_map0</c> (pairs grouped
/// by expert) and <c>kernel_moe_combine</c>: the templates shared with OpenCL (<see cref="GpuMoeTemplates"/>) in
/// <see cref="GpuDialect.Metal"/>.
/// </summary>
internal static class MetalMoePrinter
{
    /// <summary>Rows (and tokens, and K elements) of one prefill tile; K must be a multiple.</summary>
    public const int Tile = 32;

    /// <summary>Threads of a prefill tile threadgroup (4 simdgroups of 32).</summary>
    public const int TileThreads = 128;

    /// <summary>Byte size of <c>ferrum_moe_args</c>; the host's struct must match (both sides assert it).</summary>
    public const int ArgsBytes = 104;

    /// <summary>Program name of a format, shape-generic or specialized.</summary>
    public static string ProgramName(FormatKernel format, MatrixShape? shape) =>
        shape is null ? $"ferrum_moe_{format.Name}" : $"ferrum_moe_{format.Name}_{shape.Suffix}";

    /// <summary>Elements one lane reduces at a time: one sub-block (shared scale), 32 for unquantized formats.</summary>
    public static int UnitElements(FormatKernel format) => format.IsPlainFloat ? 32 : format.SubBlockElements;

    /// <summary>The format's MoE program; throws when <paramref name="shape"/> does not fit the format's blocks or the tiles.</summary>
    public static string PrintFormatProgram(FormatKernel format, MatrixShape? shape)
    {
        if (shape is not null)
        {
            CheckShape(format, shape);
        }

        var f = format.Name;
        var sb = new StringBuilder();
        sb.Append("// Ferrum MoE kernels for ").Append(f).Append(shape is null ? " (shape-generic)" : " specialized for " + shape.Suffix)
            .Append(".\n// Generated from the format description; Metal Shading Language 2.3 (simdgroup matrices).\n");
        sb.Append(MetalMoeTemplates.Prologue);
        sb.Append(MetalMoeTemplates.Geometry);
        sb.Append("constant constexpr int QK = ").Append(Int(format.BlockElements)).Append(";   // elements per block\n")
            .Append("constant constexpr int BB = ").Append(Int(format.BlockBytes)).Append(";   // bytes per block\n")
            .Append("constant constexpr int UNIT = ").Append(Int(UnitElements(format))).Append(";   // elements a lane reduces at a time\n\n");
        // Rows and row length of the weight matrix a launch reads (gate/up: F×H, down: H×F): from the argument block,
        // or baked in for a program specialized for one matrix shape.
        if (shape is null)
        {
            sb.Append("// Shape-generic: the matrix shape comes from the ferrum_moe_args block every kernel binds at index 0.\n")
                .Append("#define N_ROWS (args.rows)\n#define N_K (args.k)\n");
        }
        else
        {
            sb.Append("// Specialized for ").Append(Int(shape.Rows)).Append(" rows of ").Append(Int(shape.RowLength))
                .Append(" elements (args.rows and args.k are ignored).\n")
                .Append("constant constexpr int N_ROWS = ").Append(Int(shape.Rows)).Append(";\n")
                .Append("constant constexpr int N_K = ").Append(Int(shape.RowLength)).Append(";\n");
        }

        sb.Append("#define N_E (args.n_experts)\n#define N_TOPK (args.topk)\n\n");

        foreach (var t in format.Tables)
        {
            sb.Append("constant int ").Append(t.Name).Append('[').Append(Int(t.Values.Count)).Append("] = { ")
                .Append(string.Join(", ", t.Values)).Append(" };\n");
        }

        sb.Append(MetalMoeTemplates.Activation);
        AppendUnitDot(sb, format);
        AppendDecodeRun(sb, format);
        AppendDecode(sb, format);
        sb.Append(MetalMoeTemplates.FormatKernels.Replace("{F}", f));
        sb.Append(GpuMoeTemplates.Dequant(GpuDialect.Metal, f));
        sb.Append("// Format-independent kernels: every program carries them, so one library per format is all the host compiles.\n");
        sb.Append(MetalMoeTemplates.Common);
        sb.Append(GpuMoeTemplates.FormatIndependent(GpuDialect.Metal));
        return sb.ToString();
    }

    /// <summary>True when the MoE kernels can be specialized for <paramref name="rows"/> × <paramref name="rowLength"/>.</summary>
    public static bool Fits(FormatKernel format, int rows, int rowLength) =>
        rows > 0 && rows % Tile == 0 && rowLength > 0 && rowLength % Math.Max(format.BlockElements, Tile) == 0;

    /// <summary>
    /// The source the generator registers for one kernel item: the format's MoE program (specialized for
    /// <paramref name="rows"/> × <paramref name="rowLength"/> when the shape fits the tiles, else shape-generic) plus the
    /// generator's dense mat-vec entry point <paramref name="entryPoint"/>: output[b·rows + r] = row r · input[b], one
    /// thread per output, grid (rows, batch); buffers 0 weights, 1 row stride (bytes), 2 input, 3 output and, when
    /// <paramref name="rows"/> is 0 (generic), 4 rows, 5 row length, 6 batch.
    /// </summary>
    public static string PrintGeneratorProgram(FormatKernel format, int rows, int rowLength, int batch, string entryPoint)
    {
        var generic = rows == 0;
        var shape = !generic && Fits(format, rows, rowLength) ? new MatrixShape(rows, rowLength) : null;
        var sb = new StringBuilder(PrintFormatProgram(format, shape));
        sb.Append("// The generator's dense mat-vec entry point: output[b * rows + r] = dot(weight row r, input[b * row_length ..]).\n")
            .Append("// Grid (rows, batch) threads, one per output.\n")
            .Append("kernel void ").Append(entryPoint).Append("(\n")
            .Append("    device const uchar* weights [[buffer(0)]],\n")
            .Append("    constant ulong& row_stride [[buffer(1)]],\n")
            .Append("    device const float* input [[buffer(2)]],\n")
            .Append("    device float* output [[buffer(3)]],\n");
        if (generic)
        {
            sb.Append("    constant int& rows_arg [[buffer(4)]],\n")
                .Append("    constant int& row_length_arg [[buffer(5)]],\n")
                .Append("    constant int& batch_arg [[buffer(6)]],\n");
        }

        sb.Append("    uint2 gid [[thread_position_in_grid]])\n{\n");
        if (generic)
        {
            sb.Append("    const int rows = rows_arg;\n    const int row_length = row_length_arg;\n    const int batch = batch_arg;\n");
        }
        else
        {
            sb.Append("    const int rows = ").Append(Int(rows)).Append(";\n")
                .Append("    const int row_length = ").Append(Int(rowLength)).Append(";\n")
                .Append("    const int batch = ").Append(Int(batch)).Append(";\n");
        }

        sb.Append(MetalMoeTemplates.MatVecEntryBody.Replace("{F}", format.Name));
        return sb.ToString();
    }

    private static void CheckShape(FormatKernel format, MatrixShape shape)
    {
        var multiple = Math.Max(format.BlockElements, Tile);
        if (!Fits(format, shape.Rows, shape.RowLength))
        {
            throw new ArgumentException(
                $"matrix shape {shape.Suffix}: {format.Name} Metal kernels need rows that are a positive multiple of {Tile} and a row length that is a positive multiple of {multiple} (block {format.BlockElements}, tile {Tile})");
        }
    }

    private static string Int(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Scale·Σq·x + Offset·Σx over UNIT elements whose x values a lane already holds in registers.</summary>
    private static void AppendUnitDot(StringBuilder sb, FormatKernel format)
    {
        var p = new MetalExprPrinter("b", "i", "s", "");
        sb.Append("// Partial dot of the UNIT elements from k0 (a multiple of UNIT) of a weight row with xl = x[k0 .. k0+UNIT),\n")
            .Append("// whose sum is sx: Scale*sum(q*x) + Offset*sum(x), the scale lets decoded once per unit.\n");
        sb.Append("static inline float ferrum_unit_dot_").Append(format.Name)
            .Append("(device const uchar* row, const int k0, thread const float* xl, const float sx)\n{\n");
        if (format.IsPlainFloat)
        {
            sb.Append("    (void)sx;\n    float sq = 0.0f;\n    for (int j = 0; j < UNIT; j++)\n    {\n");
            sb.Append("        device const uchar* b = row + (ulong)(k0 + j) * BB;\n");
            sb.Append("        sq += ").Append(p.PrintQuantAsFloat(format)).Append(" * xl[j];\n    }\n    return sq;\n}\n\n");
            return;
        }

        sb.Append("    device const uchar* b = row + (ulong)(k0 / QK) * BB;\n");
        sb.Append("    const int i0 = k0 % QK;\n");
        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = i0 / ").Append(Int(format.SubBlockElements)).Append(";\n");
        }

        if (format.Offset is null)
        {
            sb.Append("    (void)sx;\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
        sb.Append("    float sq = 0.0f;\n");
        sb.Append("    for (int j = 0; j < UNIT; j++)\n    {\n        const int i = i0 + j;\n");
        sb.Append(p.PrintLets(format, DecodeScope.Element, "        "));
        sb.Append("        sq += ").Append(p.PrintQuantAsFloat(format)).Append(" * xl[j];\n");
        sb.Append("    }\n    return ").Append(p.Print(format.Scale)).Append(" * sq");
        if (format.Offset is not null)
        {
            sb.Append(" + ").Append(p.Print(format.Offset)).Append(" * sx");
        }
        sb.Append(";\n}\n\n");
    }

    /// <summary>Eight consecutive elements (from a multiple of 8, so inside one sub-block) into threadgroup memory.</summary>
    private static void AppendDecodeRun(StringBuilder sb, FormatKernel format)
    {
        var p = new MetalExprPrinter("b", "i", "s", "");
        sb.Append("// Elements k .. k+7 of a weight row (k a multiple of 8: one sub-block) into threadgroup memory.\n");
        sb.Append("static inline void ferrum_decode8_").Append(format.Name)
            .Append("(device const uchar* row, const int k, threadgroup float* dst)\n{\n");
        if (format.IsPlainFloat)
        {
            sb.Append("    for (int j = 0; j < 8; j++)\n    {\n");
            sb.Append("        device const uchar* b = row + (ulong)(k + j) * BB;\n");
            sb.Append("        dst[j] = ").Append(p.PrintValue(format)).Append(";\n    }\n}\n\n");
            return;
        }

        sb.Append("    device const uchar* b = row + (ulong)(k / QK) * BB;\n");
        sb.Append("    const int i0 = k % QK;\n");
        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = i0 / ").Append(Int(format.SubBlockElements)).Append(";\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
        sb.Append("    for (int j = 0; j < 8; j++)\n    {\n        const int i = i0 + j;\n");
        sb.Append(p.PrintLets(format, DecodeScope.Element, "        "));
        sb.Append("        dst[j] = ").Append(p.PrintValue(format)).Append(";\n    }\n}\n\n");
    }

    private static void AppendDecode(StringBuilder sb, FormatKernel format)
    {
        var p = new MetalExprPrinter("b", "i", "s", "");
        sb.Append("// Element k of a weight row.\n");
        sb.Append("static inline float ferrum_decode_").Append(format.Name).Append("(device const uchar* row, const int k)\n{\n");
        sb.Append("    device const uchar* b = row + (ulong)(k / QK) * BB;\n");
        if (format.Uses(IndexVar.Element) || format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int i = k % QK;\n");
        }

        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = i / ").Append(Int(format.SubBlockElements)).Append(";\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.Element, "    "));
        sb.Append("    return ").Append(p.PrintValue(format)).Append(";\n}\n\n");
    }
}
