using System.Buffers.Binary;
using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>
/// Quantizes activations to the vec_dot types, bit-for-bit like ggml's reference quantizers
/// (quantize_row_q8_K_ref, quantize_row_q8_0_ref, quantize_row_q8_1_ref). Byte layouts are ggml's block structs.
/// </summary>
public static class ActivationQuantizer
{
    /// <summary>Q8_K: f32 d, i8 qs[256], i16 bsums[16]. The signed element of largest magnitude maps to -127.</summary>
    public static void QuantizeQ8K(ReadOnlySpan<float> x, Span<byte> dst)
    {
        var layout = BlockLayout.Get(GgmlType.Q8_K);
        var n = QuantArgs.Blocks(layout, x.Length, dst.Length, nameof(x), nameof(dst));
        for (var i = 0; i < n; i++)
        {
            var xb = x.Slice(i * 256, 256);
            var y = dst.Slice(i * 292, 292);
            float max = 0, amax = 0;
            for (var j = 0; j < 256; j++)
            {
                var ax = MathF.Abs(xb[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = xb[j];
                }
            }

            if (amax == 0)
            {
                // ggml zeroes d and qs and leaves bsums untouched; zero sums are what a fresh buffer holds.
                y.Clear();
                continue;
            }

            var iscale = -127f / max;
            for (var j = 0; j < 256; j++)
            {
                y[4 + j] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * xb[j]));
            }

            for (var g = 0; g < 16; g++)
            {
                var sum = 0;
                for (var k = 0; k < 16; k++)
                {
                    sum += (sbyte)y[4 + 16 * g + k];
                }

                BinaryPrimitives.WriteInt16LittleEndian(y.Slice(260 + 2 * g), (short)sum);
            }

            BinaryPrimitives.WriteSingleLittleEndian(y, 1 / iscale);
        }
    }

    /// <summary>Q8_0: f16 d = amax/127, i8 qs[32] = round-half-away(x/d).</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> dst)
    {
        var layout = BlockLayout.Get(GgmlType.Q8_0);
        var n = QuantArgs.Blocks(layout, x.Length, dst.Length, nameof(x), nameof(dst));
        for (var i = 0; i < n; i++)
        {
            var y = dst.Slice(i * 34, 34);
            Q8Block(x.Slice(i * 32, 32), y.Slice(2, 32), out var d);
            BinaryPrimitives.WriteUInt16LittleEndian(y, FloatBits.SingleToHalf(d));
        }
    }

    /// <summary>Q8_1: as Q8_0 plus f16 s = d·Σq (integer sum times the unrounded fp32 d).</summary>
    public static void QuantizeQ8_1(ReadOnlySpan<float> x, Span<byte> dst)
    {
        var layout = BlockLayout.Get(GgmlType.Q8_1);
        var n = QuantArgs.Blocks(layout, x.Length, dst.Length, nameof(x), nameof(dst));
        for (var i = 0; i < n; i++)
        {
            var y = dst.Slice(i * 36, 36);
            var sum = Q8Block(x.Slice(i * 32, 32), y.Slice(4, 32), out var d);
            BinaryPrimitives.WriteUInt16LittleEndian(y, FloatBits.SingleToHalf(d));
            BinaryPrimitives.WriteUInt16LittleEndian(y.Slice(2), FloatBits.SingleToHalf(sum * d));
        }
    }

    /// <summary>Quantizes to the given activation type: Q8_K, Q8_0, Q8_1; F32, F16 and BF16 store the floats.</summary>
    public static void Quantize(GgmlType activationType, ReadOnlySpan<float> x, Span<byte> dst)
    {
        switch (activationType)
        {
            case GgmlType.Q8_K: QuantizeQ8K(x, dst); break;
            case GgmlType.Q8_0: QuantizeQ8_0(x, dst); break;
            case GgmlType.Q8_1: QuantizeQ8_1(x, dst); break;
            case GgmlType.F32:
            case GgmlType.F16:
            case GgmlType.BF16:
                Quantizer.Quantize(activationType, x, dst);
                break;
            default:
                throw new ArgumentException($"ggml type {activationType} is not an activation (vec_dot) type", nameof(activationType));
        }
    }

    /// <summary>Bytes needed for <paramref name="elements"/> activations of <paramref name="activationType"/>.</summary>
    public static int ByteCount(GgmlType activationType, int elements)
    {
        var layout = BlockLayout.Get(activationType);
        if (elements % layout.BlockSize != 0)
        {
            throw new ArgumentException($"{activationType}: {elements} elements is not a multiple of {layout.BlockSize}", nameof(elements));
        }

        return elements / layout.BlockSize * layout.TypeSize;
    }

    // Shared body of Q8_0/Q8_1: returns Σq; ggml rounds with roundf (half away from zero).
    private static int Q8Block(ReadOnlySpan<float> x, Span<byte> qs, out float d)
    {
        var amax = 0f;
        for (var j = 0; j < 32; j++)
        {
            amax = MaxLikeC(amax, MathF.Abs(x[j]));
        }

        d = amax / 127;
        var id = d != 0 ? 1.0f / d : 0.0f;
        var sum = 0;
        for (var j = 0; j < 32; j++)
        {
            var q = (sbyte)CastToInt8(MathF.Round(x[j] * id, MidpointRounding.AwayFromZero));
            qs[j] = (byte)q;
            sum += q;
        }

        return sum;
    }

    // ggml's MAX(a, b) macro: ((a) > (b) ? (a) : (b)); a NaN b is taken (the comparison is false).
    private static float MaxLikeC(float a, float b) => a > b ? a : b;

    // C float -> int8_t conversion for in-range values; out-of-range only arises from inf/NaN input, where C is
    // undefined and x86 produces 0x80000000 truncated to the low byte (0).
    private static int CastToInt8(float v) => v is >= -128f and <= 127f ? (int)v : 0;

    /// <summary>
    /// ggml's nearest_int: adds 1.5·2^23 so the fp32 addition rounds to an integer (ties to even) and reads it from
    /// the mantissa. Exact for |v| &lt; 2^22; reproduced bit for bit, so inf/NaN (from a subnormal block maximum) give
    /// the same codes as ggml.
    /// </summary>
    internal static int NearestInt(float v)
    {
        var bits = BitConverter.SingleToInt32Bits(v + 12582912f);
        return (bits & 0x007fffff) - 0x00400000;
    }
}
