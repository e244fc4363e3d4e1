using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The f32-in, f32-out mat-vec of <see cref="Kernels.MatVecKernel"/> over a <see cref="CpuMatKernel"/>: each token's
/// activations are quantized once to the kernel's activation type in a per-thread buffer, then the integer kernel
/// runs. Generated CPU kernel classes call this with the kernel they were specialized for.
/// </summary>
public static unsafe class CpuMatVec
{
    [ThreadStatic]
    private static byte[]? _buffer;

    /// <summary><c>output[b·rows + r] = dot(row r, input[b·rowLength ..])</c> for every token b.</summary>
    public static void Run(CpuMatKernel kernel, byte* weights, long rowStride, int rows, int rowLength, int batch, float* input, float* output)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (rows < 0 || batch < 1 || rowLength <= 0 || rowLength % kernel.BlockElements != 0 || rowStride < kernel.WeightInfo.RowBytes(rowLength))
        {
            throw new ArgumentException($"{kernel.Path}: invalid shape {rows}x{rowLength}, batch {batch}, row stride {rowStride}");
        }

        long actRow = ActivationQuant.RowBytes(kernel.ActivationType, rowLength);
        long need = actRow * batch;
        if (_buffer == null || _buffer.Length < need)
        {
            _buffer = new byte[Math.Max(need, 4096)];
        }

        fixed (byte* act = _buffer)
        {
            for (int b = 0; b < batch; b++)
            {
                ActivationQuant.Quantize(kernel.ActivationType, input + (long)b * rowLength, act + b * actRow, rowLength);
            }

            kernel.Run(rowLength, weights, rowStride, rows, act, actRow, batch, output, rows);
        }
    }

    /// <summary>The kernel a generated class of <paramref name="format"/> uses: specialized for <typeparamref name="TK"/> when available, else generic.</summary>
    public static CpuMatKernel KernelFor<TK>(GgmlType format)
        where TK : struct, IFixedRowLength => CpuKernels.Specialize<TK>(format) ?? CpuKernels.Get(format);
}
