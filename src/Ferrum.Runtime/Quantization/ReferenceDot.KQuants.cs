using System.Buffers.Binary;
using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>K-quant and IQ4_XS reference dot products against Q8_K activations (f32 d, i8 qs[256], i16 bsums[16]).</summary>
public static partial class ReferenceDot
{
    private const int Q8KSize = 292;

    private static float Q8KScale(ReadOnlySpan<byte> yb) => BinaryPrimitives.ReadSingleLittleEndian(yb);

    private static sbyte Q8(ReadOnlySpan<byte> yb, int i) => (sbyte)yb[4 + i];

    private static short BSum(ReadOnlySpan<byte> yb, int g) => BinaryPrimitives.ReadInt16LittleEndian(yb.Slice(260 + 2 * g));

    // Min term from the activation block sums, scales per 16 elements: Σ_g bsum[g]*mn[g].
    private static float Q2_K(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int nb)
    {
        var sumf = 0f;
        for (var i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * 84, 84);
            var yb = y.Slice(i * Q8KSize, Q8KSize);
            var sc = xb.Slice(0, 16);
            var summs = 0;
            for (var j = 0; j < 16; j++)
            {
                summs += BSum(yb, j) * (sc[j] >> 4);
            }

            var dy = Q8KScale(yb);
            var dall = dy * Dequantizer.Half(xb, 80);
            var dmin = dy * Dequantizer.Half(xb, 82);
            var isum = 0;
            for (var e0 = 0; e0 < 256; e0 += 16)
            {
                int h = e0 / 128, r = e0 % 128, shift = 2 * (r / 32), qOff = 16 + 32 * h + r % 32;
                var isuml = 0;
                for (var l = 0; l < 16; l++)
                {
                    isuml += Q8(yb, e0 + l) * ((xb[qOff + l] >> shift) & 3);
                }

                isum += (sc[e0 / 16] & 0xF) * isuml;
            }

            sumf += dall * isum - dmin * summs;
        }

        return sumf;
    }

    private static float Q3_K(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int nb)
    {
        Span<int> scales = stackalloc int[16];
        var sumf = 0f;
        for (var i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * 110, 110);
            var yb = y.Slice(i * Q8KSize, Q8KSize);
            KQuantScales.UnpackQ3(xb.Slice(96, 12), scales);
            var isum = 0;
            for (var e0 = 0; e0 < 256; e0 += 16)
            {
                int h = e0 / 128, r = e0 % 128, shift = 2 * (r / 32), qOff = 32 + 32 * h + r % 32;
                var isuml = 0;
                for (var l = 0; l < 16; l++)
                {
                    var q = ((xb[qOff + l] >> shift) & 3) - ((~xb[e0 % 32 + l] >> (e0 / 32)) & 1) * 4;
                    isuml += Q8(yb, e0 + l) * q;
                }

                isum += (scales[e0 / 16] - 32) * isuml;
            }

            sumf += Dequantizer.Half(xb, 108) * Q8KScale(yb) * isum;
        }

        return sumf;
    }

    private static float Q45_K(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int nb, bool five)
    {
        var size = five ? 176 : 144;
        var qsOffset = five ? 48 : 16;
        var sumf = 0f;
        for (var i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * size, size);
            var yb = y.Slice(i * Q8KSize, Q8KSize);
            var packed = xb.Slice(4, 12);
            int isum = 0, summs = 0;
            for (var sb = 0; sb < 8; sb++)
            {
                KQuantScales.GetScaleMin(sb, packed, out var sc, out var mn);
                summs += (BSum(yb, 2 * sb) + BSum(yb, 2 * sb + 1)) * mn;
                int c = sb / 2, shift = 4 * (sb % 2);
                var isuml = 0;
                for (var l = 0; l < 32; l++)
                {
                    var q = (xb[qsOffset + 32 * c + l] >> shift) & 0xF;
                    if (five)
                    {
                        q |= ((xb[16 + l] >> sb) & 1) << 4;
                    }

                    isuml += Q8(yb, 32 * sb + l) * q;
                }

                isum += sc * isuml;
            }

            var dy = Q8KScale(yb);
            sumf += Dequantizer.Half(xb, 0) * dy * isum - Dequantizer.Half(xb, 2) * dy * summs;
        }

        return sumf;
    }

    private static float Q6_K(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int nb)
    {
        var sumf = 0f;
        for (var i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * 210, 210);
            var yb = y.Slice(i * Q8KSize, Q8KSize);
            var isum = 0;
            for (var e0 = 0; e0 < 256; e0 += 16)
            {
                var isuml = 0;
                for (var l = 0; l < 16; l++)
                {
                    int e = e0 + l, h = e / 128, r = e % 128, k = r / 32, li = r % 32;
                    var ql = xb[64 * h + li + 32 * (k & 1)];
                    var lo = k < 2 ? ql & 0xF : ql >> 4;
                    var hi = (xb[128 + 32 * h + li] >> (2 * k)) & 3;
                    isuml += Q8(yb, e) * ((lo | (hi << 4)) - 32);
                }

                isum += (sbyte)xb[192 + e0 / 16] * isuml;
            }

            sumf += Dequantizer.Half(xb, 208) * Q8KScale(yb) * isum;
        }

        return sumf;
    }

    private static float Iq4Xs(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int nb)
    {
        var kv = BlockLayout.Iq4NlValues;
        var sumf = 0f;
        for (var i = 0; i < nb; i++)
        {
            var xb = x.Slice(i * 136, 136);
            var yb = y.Slice(i * Q8KSize, Q8KSize);
            var d4d8 = Dequantizer.Half(xb, 0) * Q8KScale(yb);
            var scalesH = BinaryPrimitives.ReadUInt16LittleEndian(xb.Slice(2));
            for (var ib = 0; ib < 8; ib++)
            {
                var ls = ((xb[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
                var qs = xb.Slice(8 + 16 * ib, 16);
                int sumi1 = 0, sumi2 = 0;
                for (var j = 0; j < 16; j++)
                {
                    sumi1 += Q8(yb, 32 * ib + j) * kv[qs[j] & 0xF];
                    sumi2 += Q8(yb, 32 * ib + j + 16) * kv[qs[j] >> 4];
                }

                sumf += d4d8 * (ls - 32) * (sumi1 + sumi2);
            }
        }

        return sumf;
    }
}
