using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>
/// Float → block quantizers for every supported weight format, without an importance matrix. Deterministic
/// search-based scale fitting (see <see cref="ScaleSearch"/>); after the scales are stored (fp16 / 6-bit / 4-bit),
/// every value is re-rounded against the stored scales, so the blocks decode to the closest values they can.
/// </summary>
public static partial class Quantizer
{
    /// <summary>Quantizes <paramref name="src"/> (a multiple of the block size, all finite) into <paramref name="dst"/>.</summary>
    /// <exception cref="ArgumentException">Unsupported type, mismatched lengths or a non-finite input value.</exception>
    public static void Quantize(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        var layout = QuantArgs.Layout(type, nameof(type));
        var n = QuantArgs.Blocks(layout, src.Length, dst.Length, nameof(src), nameof(dst));
        switch (type)
        {
            case GgmlType.F32:
                for (var i = 0; i < n; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(dst.Slice(4 * i), src[i]);
                }

                return;
            case GgmlType.F16:
                for (var i = 0; i < n; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(dst.Slice(2 * i), FloatBits.SingleToHalf(src[i]));
                }

                return;
            case GgmlType.BF16:
                for (var i = 0; i < n; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(dst.Slice(2 * i), FloatBits.SingleToBFloat16(src[i]));
                }

                return;
        }

        for (var i = 0; i < src.Length; i++)
        {
            if (!float.IsFinite(src[i]))
            {
                throw new ArgumentException($"{type}: src[{i}] = {src[i]} is not finite and cannot be quantized", nameof(src));
            }
        }

        for (var i = 0; i < n; i++)
        {
            var x = src.Slice(i * layout.BlockSize, layout.BlockSize);
            var y = dst.Slice(i * layout.TypeSize, layout.TypeSize);
            y.Clear();
            try
            {
                QuantizeBlock(type, x, y);
            }
            catch (OverflowException e)
            {
                throw new ArgumentException(
                    $"{type}: block {i} (elements {i * layout.BlockSize}..{(i + 1) * layout.BlockSize - 1}) has values too large for the format: {e.Message}",
                    nameof(src), e);
            }
        }
    }

    private static void QuantizeBlock(GgmlType type, ReadOnlySpan<float> x, Span<byte> y)
    {
        switch (type)
        {
            case GgmlType.Q4_0: SymmetricLegacy(x, y, -8, 7, 4); break;
            case GgmlType.Q5_0: SymmetricLegacy(x, y, -16, 15, 5); break;
            case GgmlType.Q8_0: SymmetricLegacy(x, y, -127, 127, 8); break;
            case GgmlType.Q4_1: AffineLegacy(x, y, 15); break;
            case GgmlType.Q5_1: AffineLegacy(x, y, 31); break;
            case GgmlType.IQ4_NL: Iq4Nl(x, y); break;
            case GgmlType.MXFP4: Mxfp4(x, y); break;
            case GgmlType.Q2_K: Q2_K(x, y); break;
            case GgmlType.Q3_K: Q3_K(x, y); break;
            case GgmlType.Q4_K: Q45_K(x, y, 15); break;
            case GgmlType.Q5_K: Q45_K(x, y, 31); break;
            case GgmlType.Q6_K: Q6_K(x, y); break;
            case GgmlType.IQ4_XS: Iq4Xs(x, y); break;
            default: throw new ArgumentException($"ggml type {type} is not a supported weight format", nameof(type));
        }
    }

    /// <summary>Bytes of <paramref name="elements"/> elements of <paramref name="type"/>.</summary>
    public static int ByteCount(GgmlType type, int elements)
    {
        var layout = QuantArgs.Layout(type, nameof(type));
        if (elements % layout.BlockSize != 0)
        {
            throw new ArgumentException($"{type}: {elements} elements is not a multiple of the block size {layout.BlockSize}", nameof(elements));
        }

        return elements / layout.BlockSize * layout.TypeSize;
    }

    private static float StoreHalf(Span<byte> y, int offset, float value)
    {
        var h = FloatBits.SingleToHalf(value);
        if (float.IsFinite(value) && Half.IsInfinity(BitConverter.UInt16BitsToHalf(h)))
        {
            throw new OverflowException($"scale {value:R} exceeds the fp16 range");
        }

        BinaryPrimitives.WriteUInt16LittleEndian(y.Slice(offset), h);
        return FloatBits.HalfToSingle(h);
    }

    // Element j of a 32-element group goes to byte j%16, low nibble for j<16, high nibble otherwise.
    private static void PutNibble(Span<byte> qs, int j, int q) => qs[j & 15] |= (byte)(j < 16 ? q : q << 4);

    // Q4_0, Q5_0, Q8_0: x = d*q, q in [lo, hi]; stored q - lo (4/5 bits) or as int8.
    private static void SymmetricLegacy(ReadOnlySpan<float> x, Span<byte> y, int lo, int hi, int bits)
    {
        var d = StoreHalf(y, 0, ScaleSearch.FitSymmetric(x, lo, hi));
        var id = d != 0 ? 1 / d : 0;
        for (var j = 0; j < 32; j++)
        {
            var q = ScaleSearch.RoundClamp(x[j] * id, lo, hi);
            switch (bits)
            {
                case 8:
                    y[2 + j] = (byte)(sbyte)q;
                    break;
                case 4:
                    PutNibble(y.Slice(2, 16), j, q - lo);
                    break;
                default:
                    var u = q - lo;
                    PutNibble(y.Slice(6, 16), j, u & 0xF);
                    y[2 + j / 8] |= (byte)(((u >> 4) & 1) << (j % 8));
                    break;
            }
        }
    }

    // Q4_1, Q5_1: x = d*q + m, q in [0, nmax].
    private static void AffineLegacy(ReadOnlySpan<float> x, Span<byte> y, int nmax)
    {
        ScaleSearch.FitAffine(x, nmax, offsetNonPositive: false, out var s, out var a);
        var d = StoreHalf(y, 0, s);
        var m = StoreHalf(y, 2, a);
        var id = d != 0 ? 1 / d : 0;
        var qs = y.Slice(nmax == 15 ? 4 : 8, 16);
        for (var j = 0; j < 32; j++)
        {
            var q = ScaleSearch.RoundClamp((x[j] - m) * id, 0, nmax);
            PutNibble(qs, j, q & 0xF);
            if (nmax == 31)
            {
                y[4 + j / 8] |= (byte)(((q >> 4) & 1) << (j % 8));
            }
        }
    }

    private static void Iq4Nl(ReadOnlySpan<float> x, Span<byte> y)
    {
        ReadOnlySpan<sbyte> kv = BlockLayout.Iq4NlValues;
        var d = StoreHalf(y, 0, ScaleSearch.FitCodebook(x, kv));
        var id = d != 0 ? 1 / d : 0;
        for (var j = 0; j < 32; j++)
        {
            PutNibble(y.Slice(2, 16), j, ScaleSearch.NearestIndex(kv, x[j] * id));
        }
    }

    // MXFP4: the scale is a power of two; try the exponents around amax/6 and keep the best.
    private static void Mxfp4(ReadOnlySpan<float> x, Span<byte> y)
    {
        ReadOnlySpan<sbyte> kv = BlockLayout.Mxfp4Values;
        var amax = 0f;
        foreach (var v in x)
        {
            amax = MathF.Max(amax, MathF.Abs(v));
        }

        byte bestE = 0;
        if (amax > 0)
        {
            // Largest code magnitude is 12 at scale 2^(e-128): e0 puts amax near it.
            var e0 = (int)MathF.Floor(MathF.Log2(amax / 12)) + 128;
            var best = float.PositiveInfinity;
            for (var e = e0 - 1; e <= e0 + 2; e++)
            {
                var ec = (byte)Math.Clamp(e, 0, 254);
                var err = ScaleSearch.CodebookError(x, FloatBits.E8M0ToSingleHalf(ec), kv);
                if (err < best)
                {
                    best = err;
                    bestE = ec;
                }
            }
        }

        y[0] = bestE;
        var inv = 1 / FloatBits.E8M0ToSingleHalf(bestE);
        for (var j = 0; j < 32; j++)
        {
            PutNibble(y.Slice(1, 16), j, ScaleSearch.NearestIndex(kv, x[j] * inv));
        }
    }
}
