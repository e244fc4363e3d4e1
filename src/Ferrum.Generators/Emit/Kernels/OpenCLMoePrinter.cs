namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// Prints OpenCL C 1.2 MoE programs: <see cref="GpuMoeProgram"/> in <see cref="GpuDialect.OpenCL"/>. One program per
/// weight format holds:
/// <list type="bullet">
/// <item><c>ferrum_moe_gate_up_vec_{fmt}</c>: indirect mat-vec, one launch for every (token, slot) pair; the expert id is
/// read from the ids buffer; gate and up rows in one pass over x, output act(gate)·up.</item>
/// <item><c>ferrum_moe_down_vec_{fmt}</c>: one work-group row block per token, looping over the token's slots, so the
/// down projection and the routing-weighted sum are one kernel.</item>
/// <item><c>ferrum_moe_gate_up_tile_{fmt}</c>, <c>ferrum_moe_down_tile_{fmt}</c>: batched prefill over the non-empty
/// (expert, token tile) pairs the host lists in <c>tiles</c>.</item>
/// <item><c>ferrum_dequant_{fmt}</c>: plain dequantization (tests).</item>
/// </list>
/// and the format-independent <c>ferrum_moe_route</c>, <c>ferrum_moe_group</c>, <c>ferrum_moe_combine</c>. Sizes are
/// kernel arguments in every variant; a program specialized for one weight matrix shape defines them as constants
/// instead (the argument is then ignored), so the host launches both the same way. Work-group geometry comes from -D
/// options with defaults in the program.
/// </summary>
internal static class OpenCLMoePrinter
{
    /// <summary>Program name of a format, shape-generic or specialized for one weight matrix shape.</summary>
    public static string ProgramName(FormatKernel format, MatrixShape? shape) => GpuMoeProgram.Name(format, shape);

    /// <summary>Elements one work-item reduces at a time: one sub-block (shared scale), 32 for unquantized formats.</summary>
    public static int UnitElements(FormatKernel format) => GpuFormatHelpers.UnitElements(format);

    /// <summary>The format's MoE program.</summary>
    /// <param name="format">Weight format.</param>
    /// <param name="shape">Weight matrix shape to bake in; null for sizes as kernel arguments.</param>
    /// <param name="denseEntryPoint">When set, also a plain batched mat-vec under this name (the generator pipeline's
    /// per-kernel entry point): <c>(weights, row_stride, input, output[, ROWS, ROW_LENGTH, BATCH])</c>, one work-item
    /// per (row, token), ROWS/ROW_LENGTH/BATCH baked in when <paramref name="shape"/> is set.</param>
    /// <param name="batch">Tokens the dense mat-vec is specialized for (with <paramref name="shape"/>).</param>
    public static string PrintFormatProgram(FormatKernel format, MatrixShape? shape, string? denseEntryPoint = null, int batch = 0) =>
        GpuMoeProgram.Print(
            GpuDialect.OpenCL,
            format,
            shape,
            "// Generated from the format description; OpenCL C 1.2.\n",
            denseEntryPoint is null ? null : (denseEntryPoint, shape?.Rows ?? 0, shape?.RowLength ?? 0, batch));
}
