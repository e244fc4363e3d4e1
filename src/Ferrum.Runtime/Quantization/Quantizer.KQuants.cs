using System.Buffers.Binary;
using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>
/// K-quant and IQ4_XS quantizers: fit each sub-block's scale (and min), quantize those to the super-block's
/// integer scale codes, then re-round every element against the stored scales.
/// </summary>
public static partial class Quantizer
{
    // Q2_K: 16 sub-blocks of 16, x = d*sc*q - dmin*mn with 4-bit sc, mn and 2-bit q.
    private static void Q2_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<float> scales = stackalloc float[16];
        Span<float> mins = stackalloc float[16];
        Span<byte> ls = stackalloc byte[16];
        Span<byte> lm = stackalloc byte[16];
        FitAffineSubBlocks(x, 16, 3, scales, mins);
        var (d, dmin) = QuantizeScaleMins(y, 80, 82, scales, mins, 15, ls, lm);
        RefineScaleMins(x, 16, 3, d, dmin, 15, ls, lm);
        for (var j = 0; j < 16; j++)
        {
            y[j] = (byte)(ls[j] | (lm[j] << 4));
        }

        var qs = y.Slice(16, 64);
        for (var e = 0; e < 256; e++)
        {
            var q = AffineCode(x[e], d * ls[e / 16], dmin * lm[e / 16], 3);
            var r = e % 128;
            qs[32 * (e / 128) + r % 32] |= (byte)(q << (2 * (r / 32)));
        }
    }

    // Q4_K / Q5_K: 8 sub-blocks of 32, 6-bit scales and mins.
    private static void Q45_K(ReadOnlySpan<float> x, Span<byte> y, int nmax)
    {
        Span<float> scales = stackalloc float[8];
        Span<float> mins = stackalloc float[8];
        Span<byte> ls = stackalloc byte[8];
        Span<byte> lm = stackalloc byte[8];
        FitAffineSubBlocks(x, 32, nmax, scales, mins);
        var (d, dmin) = QuantizeScaleMins(y, 0, 2, scales, mins, 63, ls, lm);
        RefineScaleMins(x, 32, nmax, d, dmin, 63, ls, lm);
        KQuantScales.PackScaleMin(ls, lm, y.Slice(4, 12));
        var five = nmax == 31;
        var qs = y.Slice(five ? 48 : 16, 128);
        for (var e = 0; e < 256; e++)
        {
            var q = AffineCode(x[e], d * ls[e / 32], dmin * lm[e / 32], nmax);
            var c = e / 64;
            var r = e % 64;
            qs[32 * c + r % 32] |= (byte)(r < 32 ? q & 0xF : (q & 0xF) << 4);
            if (five)
            {
                y[16 + e % 32] |= (byte)(((q >> 4) & 1) << (e / 32));
            }
        }
    }

    // Q3_K: 16 sub-blocks of 16, signed 6-bit scales, q in [-4, 3].
    private static void Q3_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<float> scales = stackalloc float[16];
        for (var j = 0; j < 16; j++)
        {
            scales[j] = ScaleSearch.FitSymmetric(x.Slice(16 * j, 16), -4, 3);
        }

        Span<int> l = stackalloc int[16];
        var d = QuantizeSignedScales(y, 108, scales, -32, 31, l);
        RefineSignedScales(x, 16, d, -4, 3, -32, 31, l);
        Span<int> stored = stackalloc int[16];
        for (var j = 0; j < 16; j++)
        {
            stored[j] = l[j] + 32;
        }

        KQuantScales.PackQ3(stored, y.Slice(96, 12));
        var qs = y.Slice(32, 64);
        for (var e = 0; e < 256; e++)
        {
            var dl = d * l[e / 16];
            var q = (dl != 0 ? ScaleSearch.RoundClamp(x[e] / dl, -4, 3) : 0) + 4;
            var r = e % 128;
            qs[32 * (e / 128) + r % 32] |= (byte)((q & 3) << (2 * (r / 32)));
            if (q > 3)
            {
                y[e % 32] |= (byte)(1 << (e / 32));
            }
        }
    }

    // Q6_K: 16 sub-blocks of 16, int8 scales, q in [-32, 31].
    private static void Q6_K(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<float> scales = stackalloc float[16];
        for (var j = 0; j < 16; j++)
        {
            scales[j] = ScaleSearch.FitSymmetric(x.Slice(16 * j, 16), -32, 31);
        }

        Span<int> l = stackalloc int[16];
        var d = QuantizeSignedScales(y, 208, scales, -128, 127, l);
        RefineSignedScales(x, 16, d, -32, 31, -128, 127, l);
        for (var j = 0; j < 16; j++)
        {
            y[192 + j] = (byte)(sbyte)l[j];
        }

        for (var e = 0; e < 256; e++)
        {
            var dl = d * l[e / 16];
            var q = (dl != 0 ? ScaleSearch.RoundClamp(x[e] / dl, -32, 31) : 0) + 32;
            int h = e / 128, r = e % 128, k = r / 32, li = r % 32;
            var qlIndex = 64 * h + li + (k & 1) * 32;
            y[qlIndex] |= (byte)(k < 2 ? q & 0xF : (q & 0xF) << 4);
            y[128 + 32 * h + li] |= (byte)((q >> 4) << (2 * k));
        }
    }

    // IQ4_XS: 8 sub-blocks of 32 on the iq4nl codebook, signed 6-bit scales (stored +32).
    private static void Iq4Xs(ReadOnlySpan<float> x, Span<byte> y)
    {
        ReadOnlySpan<sbyte> kv = BlockLayout.Iq4NlValues;
        Span<float> scales = stackalloc float[8];
        for (var j = 0; j < 8; j++)
        {
            scales[j] = ScaleSearch.FitCodebook(x.Slice(32 * j, 32), kv);
        }

        Span<int> l = stackalloc int[8];
        var d = QuantizeSignedScales(y, 0, scales, -32, 31, l);
        ushort scalesH = 0;
        for (var j = 0; j < 8; j++)
        {
            var u = l[j] + 32;
            y[4 + j / 2] |= (byte)((u & 0xF) << (4 * (j % 2)));
            scalesH |= (ushort)((u >> 4) << (2 * j));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(y.Slice(2), scalesH);
        for (var j = 0; j < 8; j++)
        {
            var dl = d * l[j];
            var inv = dl != 0 ? 1 / dl : 0;
            var qs = y.Slice(8 + 16 * j, 16);
            for (var i = 0; i < 32; i++)
            {
                PutNibble(qs, i, dl != 0 ? ScaleSearch.NearestIndex(kv, x[32 * j + i] * inv) : NearestZero(kv));
            }
        }
    }

    private static int NearestZero(ReadOnlySpan<sbyte> kv) => ScaleSearch.NearestIndex(kv, 0);

    private static void FitAffineSubBlocks(ReadOnlySpan<float> x, int size, int nmax, Span<float> scales, Span<float> mins)
    {
        for (var j = 0; j < scales.Length; j++)
        {
            ScaleSearch.FitAffine(x.Slice(size * j, size), nmax, offsetNonPositive: true, out var s, out var a);
            scales[j] = s;
            mins[j] = -a;
        }
    }

    // Super-block scale d = max/levels for scales and mins; writes fp16 d and dmin; returns the stored values.
    private static (float D, float DMin) QuantizeScaleMins(Span<byte> y, int dOffset, int dminOffset, ReadOnlySpan<float> scales,
        ReadOnlySpan<float> mins, int levels, Span<byte> ls, Span<byte> lm)
    {
        float maxScale = 0, maxMin = 0;
        for (var j = 0; j < scales.Length; j++)
        {
            maxScale = MathF.Max(maxScale, scales[j]);
            maxMin = MathF.Max(maxMin, mins[j]);
        }

        var d = StoreHalf(y, dOffset, maxScale / levels);
        var dmin = StoreHalf(y, dminOffset, maxMin / levels);
        for (var j = 0; j < scales.Length; j++)
        {
            ls[j] = (byte)(d != 0 ? ScaleSearch.RoundClamp(scales[j] / d, 0, levels) : 0);
            lm[j] = (byte)(dmin != 0 ? ScaleSearch.RoundClamp(mins[j] / dmin, 0, levels) : 0);
        }

        return (d, dmin);
    }

    // Signed sub-block scales: the largest-magnitude scale maps to lo (the longer side); returns the stored fp16 d.
    private static float QuantizeSignedScales(Span<byte> y, int dOffset, ReadOnlySpan<float> scales, int lo, int hi, Span<int> l)
    {
        var max = ScaleSearch.SignedMax(scales);
        var d = StoreHalf(y, dOffset, max / lo);
        for (var j = 0; j < scales.Length; j++)
        {
            l[j] = d != 0 ? ScaleSearch.RoundClamp(scales[j] / d, lo, hi) : 0;
        }

        return d;
    }

    // The integer sub-block codes were rounded from the fitted scales; a neighbour code can fit better once the
    // elements are re-rounded against it. Try ±1 on scale and min and keep the best per sub-block.
    private static void RefineScaleMins(ReadOnlySpan<float> x, int size, int nmax, float d, float dmin, int levels, Span<byte> ls, Span<byte> lm)
    {
        for (var j = 0; j < ls.Length; j++)
        {
            var sub = x.Slice(size * j, size);
            int bestS = ls[j], bestM = lm[j];
            var best = ScaleSearch.AffineError(sub, d * bestS, -(dmin * bestM), nmax);
            for (var s = ls[j] - 1; s <= ls[j] + 1; s++)
            {
                for (var m = lm[j] - 1; m <= lm[j] + 1; m++)
                {
                    if (s < 0 || s > levels || m < 0 || m > levels || (s == ls[j] && m == lm[j]))
                    {
                        continue;
                    }

                    var err = ScaleSearch.AffineError(sub, d * s, -(dmin * m), nmax);
                    if (err < best)
                    {
                        best = err;
                        bestS = s;
                        bestM = m;
                    }
                }
            }

            ls[j] = (byte)bestS;
            lm[j] = (byte)bestM;
        }
    }

    private static void RefineSignedScales(ReadOnlySpan<float> x, int size, float d, int qlo, int qhi, int lo, int hi, Span<int> l)
    {
        for (var j = 0; j < l.Length; j++)
        {
            var sub = x.Slice(size * j, size);
            var bestL = l[j];
            var best = ScaleSearch.SymmetricError(sub, d * bestL, qlo, qhi);
            for (var c = l[j] - 2; c <= l[j] + 2; c++)
            {
                if (c < lo || c > hi || c == l[j])
                {
                    continue;
                }

                var err = ScaleSearch.SymmetricError(sub, d * c, qlo, qhi);
                if (err < best)
                {
                    best = err;
                    bestL = c;
                }
            }

            l[j] = bestL;
        }
    }

    private static int AffineCode(float x, float dl, float ml, int nmax) =>
        dl != 0 ? ScaleSearch.RoundClamp((x + ml) / dl, 0, nmax) : 0;
}
