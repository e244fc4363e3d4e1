using System.Runtime.CompilerServices;
using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Quantizes float activations to the integer block types ggml's CPU dot products consume (Q8_K, Q8_0, Q8_1),
/// in ggml's byte layout and with ggml's x86 rounding, so one token is quantized once and then dotted with
/// every weight row of the matching format.
/// </summary>
public static unsafe class ActivationQuant
{
    /// <summary>Bytes of one Q8_K block: f32 d, i8 qs[256], i16 bsums[16].</summary>
    public const int Q8KBlockBytes = 292;

    /// <summary>Bytes of one Q8_0 block: f16 d, i8 qs[32].</summary>
    public const int Q80BlockBytes = 34;

    /// <summary>Bytes of one Q8_1 block: f16 d, f16 s (= d·Σq), i8 qs[32].</summary>
    public const int Q81BlockBytes = 36;

    /// <summary>Bytes that <paramref name="k"/> activations take once quantized to <paramref name="type"/>.</summary>
    public static long RowBytes(GgmlType type, int k) => type switch
    {
        GgmlType.Q8_K => (long)(k / 256) * Q8KBlockBytes,
        GgmlType.Q8_0 => (long)(k / 32) * Q80BlockBytes,
        GgmlType.Q8_1 => (long)(k / 32) * Q81BlockBytes,
        GgmlType.F32 => 4L * k,
        _ => throw new NotSupportedException($"activation type {type} is not produced by the CPU backend"),
    };

    /// <summary>Quantizes one row of <paramref name="k"/> floats to <paramref name="type"/> (F32 copies).</summary>
    public static void Quantize(GgmlType type, float* x, byte* dst, int k)
    {
        switch (type)
        {
            case GgmlType.Q8_K: QuantizeQ8K(x, dst, k); break;
            case GgmlType.Q8_0: QuantizeQ80(x, dst, k); break;
            case GgmlType.Q8_1: QuantizeQ81(x, dst, k); break;
            case GgmlType.F32: Buffer.MemoryCopy(x, dst, 4L * k, 4L * k); break;
            default: throw new NotSupportedException($"activation type {type} is not produced by the CPU backend");
        }
    }

    /// <summary>
    /// Q8_K as ggml's quantize_row_q8_K_ref: scale from the signed element of largest magnitude (iscale = -127/max),
    /// round half to even, clamp to 127, d = 1/iscale, and 16-element sums in bsums.
    /// </summary>
    public static void QuantizeQ8K(float* x, byte* dst, int k)
    {
        if (k % 256 != 0)
        {
            throw new ArgumentException($"Q8_K needs a multiple of 256 elements, got {k}", nameof(k));
        }

        for (int b = 0; b < k / 256; b++, x += 256, dst += Q8KBlockBytes)
        {
            float amax = 0, max = 0;
            for (int j = 0; j < 256; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = x[j];
                }
            }

            sbyte* qs = (sbyte*)(dst + 4);
            short* bsums = (short*)(dst + 4 + 256);
            if (amax == 0)
            {
                *(float*)dst = 0;
                new Span<byte>(dst + 4, 256 + 32).Clear();
                continue;
            }

            float iscale = -127f / max;
            for (int j = 0; j < 256; j++)
            {
                int v = NearestInt(iscale * x[j]);
                qs[j] = (sbyte)Math.Min(127, v);
            }

            for (int g = 0; g < 16; g++)
            {
                int s = 0;
                for (int l = 0; l < 16; l++)
                {
                    s += qs[16 * g + l];
                }

                bsums[g] = (short)s;
            }

            *(float*)dst = 1 / iscale;
        }
    }

    /// <summary>Q8_0 as ggml's x86 quantize_row_q8_0: d = amax/127, q = round-half-even(x·127/amax), d stored as f16.</summary>
    public static void QuantizeQ80(float* x, byte* dst, int k)
    {
        if (k % 32 != 0)
        {
            throw new ArgumentException($"Q8_0 needs a multiple of 32 elements, got {k}", nameof(k));
        }

        for (int b = 0; b < k / 32; b++, x += 32, dst += Q80BlockBytes)
        {
            QuantizeBlock32(x, dst + 2, out float d, out _);
            *(ushort*)dst = Fp16.FromFloat(d);
        }
    }

    /// <summary>Q8_1 as ggml's x86 quantize_row_q8_1: Q8_0's d and q, plus s = d·Σq, both stored as f16.</summary>
    public static void QuantizeQ81(float* x, byte* dst, int k)
    {
        if (k % 32 != 0)
        {
            throw new ArgumentException($"Q8_1 needs a multiple of 32 elements, got {k}", nameof(k));
        }

        for (int b = 0; b < k / 32; b++, x += 32, dst += Q81BlockBytes)
        {
            QuantizeBlock32(x, dst + 4, out float d, out int sum);
            *(ushort*)dst = Fp16.FromFloat(d);
            *(ushort*)(dst + 2) = Fp16.FromFloat(d * sum);
        }
    }

    private static void QuantizeBlock32(float* x, byte* qs, out float d, out int sum)
    {
        float amax = 0;
        for (int j = 0; j < 32; j++)
        {
            amax = MathF.Max(amax, MathF.Abs(x[j]));
        }

        d = amax / 127f;
        float id = amax != 0 ? 127f / amax : 0f;
        sum = 0;
        for (int j = 0; j < 32; j++)
        {
            int q = (int)MathF.Round(x[j] * id, MidpointRounding.ToEven);
            ((sbyte*)qs)[j] = (sbyte)q;
            sum += q;
        }
    }

    // ggml's nearest_int: round half to even for |v| < 2^22, the range activations are scaled into.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NearestInt(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);
}
