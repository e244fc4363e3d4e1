using Ferrum.Generators.Emit.Kernels;
using Ferrum.Generators.Emit.Metal;
using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit;

/// <summary>
/// Metal Shading Language kernels, printed from the per-format descriptions by <see cref="MetalMoePrinter"/>: every
/// described format is supported. Each source is the format's whole MoE program (mat-vec per (token, slot), fused
/// gate||up, down + weighted sum, prefill tiles, routing), specialized for the item's matrix shape when it fits the
/// tiles, plus the item's dense mat-vec entry point. Grid of the entry point: (rows, batch). Buffers: 0 weights,
/// 1 row stride, 2 input, 3 output; generic kernels add 4 rows, 5 row length, 6 batch.
/// </summary>
internal sealed class MetalKernelPrinter : ISourceKernelPrinter
{
    public KernelTarget Target => KernelTarget.Metal;

    public string Extension => ".metal";

    public bool Supports(GgmlType format) => FormatKernels.IsSupported(format);

    public string PrintSource(KernelItem kernel) =>
        MetalMoePrinter.PrintGeneratorProgram(FormatKernels.Get(kernel.Format), kernel.Rows, kernel.RowLength, kernel.Batch, kernel.EntryPoint);
}
