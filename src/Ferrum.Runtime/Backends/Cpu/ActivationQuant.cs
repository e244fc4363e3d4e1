using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Pointer-based entry to <see cref="ActivationQuantizer"/> for the kernels: one token's activations quantized
/// to the weight format's activation type (Q8_K, Q8_0, Q8_1) in ggml's byte layout, or copied for F32.
/// </summary>
public static unsafe class ActivationQuant
{
    /// <summary>Bytes of one Q8_K block: f32 d, i8 qs[256], i16 bsums[16].</summary>
    public const int Q8KBlockBytes = Q8KLayout.BlockBytes;

    /// <summary>Bytes that <paramref name="k"/> activations take once quantized to <paramref name="type"/>.</summary>
    public static long RowBytes(GgmlType type, int k) => type switch
    {
        GgmlType.F32 => 4L * k,
        GgmlType.Q8_K or GgmlType.Q8_0 or GgmlType.Q8_1 => ActivationQuantizer.ByteCount(type, k),
        _ => throw new NotSupportedException($"activation type {type} is not produced by the CPU backend"),
    };

    /// <summary>Quantizes one row of <paramref name="k"/> floats to <paramref name="type"/> (F32 copies).</summary>
    public static void Quantize(GgmlType type, float* x, byte* dst, int k)
    {
        if (type == GgmlType.F32)
        {
            Buffer.MemoryCopy(x, dst, 4L * k, 4L * k);
            return;
        }

        long bytes = RowBytes(type, k);
        ActivationQuantizer.Quantize(type, new ReadOnlySpan<float>(x, k), new Span<byte>(dst, checked((int)bytes)));
    }
}
