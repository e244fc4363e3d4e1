using System.Buffers.Binary;
using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>K-quant and IQ4_XS block decoders (256-element super-blocks).</summary>
public static partial class Dequantizer
{
    private static void Q2_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var scales = b.Slice(0, 16);
        var qs = b.Slice(16, 64);
        var d = Half(b, 80);
        var min = Half(b, 82);
        var o = 0;
        var isc = 0;
        for (var half = 0; half < 2; half++)
        {
            var q = qs.Slice(32 * half, 32);
            for (var shift = 0; shift < 8; shift += 2)
            {
                for (var part = 0; part < 2; part++)
                {
                    var sc = scales[isc++];
                    var dl = d * (sc & 0xF);
                    var ml = min * (sc >> 4);
                    for (var l = 0; l < 16; l++)
                    {
                        y[o++] = dl * ((q[16 * part + l] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    private static void Q3_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var hm = b.Slice(0, 32);
        var qs = b.Slice(32, 64);
        Span<int> scales = stackalloc int[16];
        KQuantScales.UnpackQ3(b.Slice(96, 12), scales);
        var dAll = Half(b, 108);
        var o = 0;
        var isc = 0;
        var bit = 0;
        for (var half = 0; half < 2; half++)
        {
            var q = qs.Slice(32 * half, 32);
            for (var shift = 0; shift < 8; shift += 2)
            {
                for (var part = 0; part < 2; part++)
                {
                    var dl = dAll * (scales[isc++] - 32);
                    for (var l = 16 * part; l < 16 * part + 16; l++)
                    {
                        // Branch-free "subtract 4 unless the hmask bit is set" (random bits defeat the predictor).
                        y[o++] = dl * (((q[l] >> shift) & 3) - ((~hm[l] >> bit) & 1) * 4);
                    }
                }

                bit++;
            }
        }
    }

    private static void Q4_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var min = Half(b, 2);
        var scales = b.Slice(4, 12);
        var qs = b.Slice(16, 128);
        for (var c = 0; c < 4; c++)
        {
            KQuantScales.GetScaleMin(2 * c, scales, out var sc1, out var m1i);
            KQuantScales.GetScaleMin(2 * c + 1, scales, out var sc2, out var m2i);
            float d1 = d * sc1, m1 = min * m1i, d2 = d * sc2, m2 = min * m2i;
            var q = qs.Slice(32 * c, 32);
            var yc = y.Slice(64 * c, 64);
            for (var l = 0; l < 32; l++)
            {
                yc[l] = d1 * (q[l] & 0xF) - m1;
                yc[l + 32] = d2 * (q[l] >> 4) - m2;
            }
        }
    }

    private static void Q5_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var min = Half(b, 2);
        var scales = b.Slice(4, 12);
        var qh = b.Slice(16, 32);
        var qs = b.Slice(48, 128);
        for (var c = 0; c < 4; c++)
        {
            KQuantScales.GetScaleMin(2 * c, scales, out var sc1, out var m1i);
            KQuantScales.GetScaleMin(2 * c + 1, scales, out var sc2, out var m2i);
            float d1 = d * sc1, m1 = min * m1i, d2 = d * sc2, m2 = min * m2i;
            var q = qs.Slice(32 * c, 32);
            var yc = y.Slice(64 * c, 64);
            for (var l = 0; l < 32; l++)
            {
                // Bits 2c and 2c+1 of qh[l] are the 5th bits; shifted in without branches.
                yc[l] = d1 * ((q[l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4)) - m1;
                yc[l + 32] = d2 * ((q[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) - m2;
            }
        }
    }

    private static void Q6_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 208);
        for (var half = 0; half < 2; half++)
        {
            var ql = b.Slice(64 * half, 64);
            var qh = b.Slice(128 + 32 * half, 32);
            var sc = b.Slice(192 + 8 * half, 8);
            var yh = y.Slice(128 * half, 128);
            for (var l = 0; l < 32; l++)
            {
                var isc = l / 16;
                var q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                var q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                var q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                var q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                // ggml evaluates d * sc * q left to right: (d*sc) first.
                yh[l] = d * (sbyte)sc[isc] * q1;
                yh[l + 32] = d * (sbyte)sc[isc + 2] * q2;
                yh[l + 64] = d * (sbyte)sc[isc + 4] * q3;
                yh[l + 96] = d * (sbyte)sc[isc + 6] * q4;
            }
        }
    }

    private static void IQ4_XS(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var scalesH = BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(2));
        var scalesL = b.Slice(4, 4);
        var qs = b.Slice(8, 128);
        var kv = BlockLayout.Iq4NlValues;
        for (var ib = 0; ib < 8; ib++)
        {
            var ls = ((scalesL[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
            var dl = d * (ls - 32);
            var q = qs.Slice(16 * ib, 16);
            var yb = y.Slice(32 * ib, 32);
            for (var j = 0; j < 16; j++)
            {
                yb[j] = dl * kv[q[j] & 0xF];
                yb[j + 16] = dl * kv[q[j] >> 4];
            }
        }
    }
}
