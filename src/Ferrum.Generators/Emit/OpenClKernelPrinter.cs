using Ferrum.Generators.Emit.Kernels;
using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit;

/// <summary>
/// OpenCL C for every format with a kernel description (<see cref="FormatKernels"/>): per kernel item one program
/// (<see cref="OpenCLMoePrinter"/>) with the MoE kernels (routing, gate||up, down + weighted sum, tiled prefill)
/// specialized for the item's weight matrix shape (or shape-generic), plus the plain batched mat-vec under the item's
/// entry point: <c>(weights, row_stride, input, output[, ROWS, ROW_LENGTH, BATCH])</c>, work size (rows, batch).
/// </summary>
internal sealed class OpenClKernelPrinter : ISourceKernelPrinter
{
    public KernelTarget Target => KernelTarget.OpenCL;

    public string Extension => ".cl";

    public bool Supports(GgmlType format) => FormatKernels.IsSupported(format);

    public string PrintSource(KernelItem kernel) => OpenCLMoePrinter.PrintFormatProgram(
        FormatKernels.Get(kernel.Format),
        kernel.IsGeneric ? null : new MatrixShape(kernel.Rows, kernel.RowLength),
        kernel.EntryPoint,
        kernel.Batch);
}
