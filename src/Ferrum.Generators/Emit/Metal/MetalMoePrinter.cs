using System;
using Ferrum.Generators.Emit.Kernels;

namespace Ferrum.Generators.Emit.Metal;

/// <summary>
/// Prints Metal Shading Language MoE programs: <see cref="GpuMoeProgram"/> in <see cref="GpuDialect.Metal"/>. One
/// program per weight format holds:
/// <list type="bullet">
/// <item><c>kernel_moe_mv_id_gate_up_{fmt}</c>: ggml's mul_mv_id arrangement over every (token, slot) pair (grid z), the
/// expert id read from the ids buffer, <c>FERRUM_NR</c> rows per simdgroup, <c>FERRUM_RPG</c> simdgroups per
/// threadgroup, simd_sum reduction; gate and up rows in one pass over x, writing act(gate)·up.</item>
/// <item><c>kernel_moe_mv_id_down_{fmt}</c>: one threadgroup row block per token looping over its slots, so the down
/// projection and the routing-weighted sum are one kernel.</item>
/// <item><c>kernel_moe_mm_id_gate_up_{fmt}</c>, <c>kernel_moe_mm_id_down_{fmt}</c>: batched prefill grouped by expert
/// (lists from <c>kernel_moe_map0</c>): FERRUM_TR weight rows × FERRUM_TT routed tokens per threadgroup, weights
/// decoded into threadgroup memory FERRUM_KC elements of K at a time.</item>
/// <item><c>kernel_moe_dequant_{fmt}</c>: plain dequantization.</item>
/// </list>
/// A program specialized for one weight matrix shape bakes it in; a generic one reads it from the
/// <c>ferrum_moe_args</c> constant buffer every kernel takes at index 0, so the host binds both the same way. Every
/// program also carries <c>kernel_moe_route</c>, <c>kernel_moe_map0</c> and <c>kernel_moe_combine</c>.
/// </summary>
internal static class MetalMoePrinter
{
    /// <summary>K step of the prefill tiles (FERRUM_KC) and the multiple the row counts keep.</summary>
    public const int Tile = 32;

    /// <summary>Byte size of <c>ferrum_moe_args</c>; the host's struct must match (both sides assert it).</summary>
    public const int ArgsBytes = 104;

    /// <summary>Program name of a format, shape-generic or specialized.</summary>
    public static string ProgramName(FormatKernel format, MatrixShape? shape) => GpuMoeProgram.Name(format, shape);

    /// <summary>Elements one lane reduces at a time: one sub-block (shared scale), 32 for unquantized formats.</summary>
    public static int UnitElements(FormatKernel format) => GpuFormatHelpers.UnitElements(format);

    /// <summary>The format's MoE program; throws when <paramref name="shape"/> does not fit the format's blocks or the tiles.</summary>
    public static string PrintFormatProgram(FormatKernel format, MatrixShape? shape) => Print(format, shape, null);

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
        var shape = rows != 0 && Fits(format, rows, rowLength) ? new MatrixShape(rows, rowLength) : null;
        return Print(format, shape, (entryPoint, rows, rowLength, batch));
    }

    private static string Print(FormatKernel format, MatrixShape? shape, (string, int, int, int)? dense)
    {
        if (shape is not null && !Fits(format, shape.Rows, shape.RowLength))
        {
            throw new ArgumentException(
                $"matrix shape {shape.Suffix}: {format.Name} Metal kernels need rows that are a positive multiple of {Tile} and a row length that is a positive multiple of {Math.Max(format.BlockElements, Tile)} (block {format.BlockElements}, tile {Tile})");
        }

        return GpuMoeProgram.Print(GpuDialect.Metal, format, shape, "// Generated from the format description; Metal Shading Language 2.3.\n", dense);
    }
}
