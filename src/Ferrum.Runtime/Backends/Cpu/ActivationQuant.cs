using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Pointer-based entry to <see cref="ActivationQuantizer"/> for the kernels: one token's activations quantized
/// to the weight format's activation type (Q8_K, Q8_0, Q8_1) in ggml's byte layout, or copied for F32.
/// <para>Non-finite values: ggml's rule is that NaN and ±∞ propagate to the result. The reference quantizers turn an
/// ∞ into a scale of ±∞ over zero codes (a dot product then gives NaN) but skip a NaN when looking for the block
/// maximum, so a NaN could vanish. Here every block that holds a NaN or ±∞ gets a NaN scale, so any dot product with
/// it is NaN for every weight format alike (q4_K, q8_0, mxfp4...). Finite rows are quantized bit for bit as ggml.</para>
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
        PoisonNonFiniteBlocks(type, x, dst, k);
    }

    /// <summary>Sets the scale of every quantized block whose source holds a NaN or ±∞ to NaN (see the class remarks).</summary>
    public static void PoisonNonFiniteBlocks(GgmlType type, float* x, byte* dst, int k)
    {
        int block = type == GgmlType.Q8_K ? 256 : 32;
        long blockBytes = RowBytes(type, block);
        for (int b = 0; b * block < k; b++)
        {
            if (AllFinite(x + (long)b * block, block))
            {
                continue;
            }

            byte* y = dst + b * blockBytes;
            switch (type)
            {
                case GgmlType.Q8_K:
                    *(float*)y = float.NaN;
                    break;
                case GgmlType.Q8_0:
                    *(ushort*)y = 0x7E00; // f16 NaN
                    break;
                case GgmlType.Q8_1:
                    *(ushort*)y = 0x7E00;
                    *(ushort*)(y + 2) = 0x7E00;
                    break;
            }
        }
    }

    // A float is NaN or ±∞ exactly when its exponent bits are all ones; eight lanes at a time where the CPU has them.
    private static bool AllFinite(float* x, int n)
    {
        int j = 0;
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            var exponent = System.Runtime.Intrinsics.Vector256.Create(0x7F800000);
            var any = System.Runtime.Intrinsics.Vector256<int>.Zero;
            for (; j + 8 <= n; j += 8)
            {
                var e = System.Runtime.Intrinsics.Vector256.Load((int*)x + j) & exponent;
                any |= System.Runtime.Intrinsics.Vector256.Equals(e, exponent);
            }

            if (any != System.Runtime.Intrinsics.Vector256<int>.Zero)
            {
                return false;
            }
        }

        for (; j < n; j++)
        {
            if (!float.IsFinite(x[j]))
            {
                return false;
            }
        }

        return true;
    }
}
