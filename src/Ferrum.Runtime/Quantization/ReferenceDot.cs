using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>
/// Scalar reference dot products of one weight row with activations already quantized to the weight format's
/// vec_dot type, computed like ggml's generic (non-SIMD) vec_dot: integer sums per sub-block, then one float scale
/// per sub-block. The ground truth for the SIMD kernels.
/// </summary>
public static partial class ReferenceDot
{
    /// <summary>
    /// Dot product of <paramref name="elements"/> weights of <paramref name="weightType"/> with activations in the
    /// weight type's activation type (<see cref="BlockLayout.ActivationType"/>: Q8_0, Q8_1, Q8_K, or F32/F16/BF16).
    /// </summary>
    /// <exception cref="ArgumentException">Unsupported type or lengths that do not match <paramref name="elements"/>.</exception>
    public static float Dot(GgmlType weightType, ReadOnlySpan<byte> weightRow, ReadOnlySpan<byte> activationRow, int elements)
    {
        var w = QuantArgs.Layout(weightType, nameof(weightType));
        var a = BlockLayout.Get(w.ActivationType);
        if (elements < 0)
        {
            throw new ArgumentException($"{weightType}: negative element count {elements}", nameof(elements));
        }

        var nb = QuantArgs.Blocks(w, elements, weightRow.Length, nameof(elements), nameof(weightRow));
        QuantArgs.Blocks(a, elements, activationRow.Length, nameof(elements), nameof(activationRow));
        var x = weightRow;
        var y = activationRow;
        return weightType switch
        {
            GgmlType.F32 => DotF32(MemoryMarshal.Cast<byte, float>(x), MemoryMarshal.Cast<byte, float>(y)),
            GgmlType.F16 => DotHalf(x, y, nb, bf16: false),
            GgmlType.BF16 => DotHalf(x, y, nb, bf16: true),
            GgmlType.Q4_0 => Legacy(x, y, nb, w, a),
            GgmlType.Q5_0 => Legacy(x, y, nb, w, a),
            GgmlType.Q8_0 => Legacy(x, y, nb, w, a),
            GgmlType.IQ4_NL => Legacy(x, y, nb, w, a),
            GgmlType.MXFP4 => Legacy(x, y, nb, w, a),
            GgmlType.Q4_1 => LegacyWithMin(x, y, nb, w),
            GgmlType.Q5_1 => LegacyWithMin(x, y, nb, w),
            GgmlType.Q2_K => Q2_K(x, y, nb),
            GgmlType.Q3_K => Q3_K(x, y, nb),
            GgmlType.Q4_K => Q45_K(x, y, nb, five: false),
            GgmlType.Q5_K => Q45_K(x, y, nb, five: true),
            GgmlType.Q6_K => Q6_K(x, y, nb),
            GgmlType.IQ4_XS => Iq4Xs(x, y, nb),
            _ => throw new ArgumentException($"ggml type {weightType} is not a supported weight format", nameof(weightType)),
        };
    }

    // ggml_vec_dot_f32 (generic): float products accumulated in double.
    private static float DotF32(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (var i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return (float)sum;
    }

    // ggml_vec_dot_f16 / _bf16 (generic): converted float products accumulated in double.
    private static float DotHalf(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int n, bool bf16)
    {
        var xs = MemoryMarshal.Cast<byte, ushort>(x);
        var ys = MemoryMarshal.Cast<byte, ushort>(y);
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            sum += bf16
                ? FloatBits.BFloat16ToSingle(xs[i]) * FloatBits.BFloat16ToSingle(ys[i])
                : FloatBits.HalfToSingle(xs[i]) * FloatBits.HalfToSingle(ys[i]);
        }

        return (float)sum;
    }

    // Signed 32-element codes of a legacy/codebook block, in element order.
    private static void Codes(GgmlType type, ReadOnlySpan<byte> b, Span<int> q)
    {
        switch (type)
        {
            case GgmlType.Q8_0:
                for (var j = 0; j < 32; j++)
                {
                    q[j] = (sbyte)b[2 + j];
                }

                return;
            case GgmlType.Q5_0:
            case GgmlType.Q5_1:
                {
                    var qhOffset = type == GgmlType.Q5_0 ? 2 : 4;
                    var qh = BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(qhOffset));
                    var qs = b.Slice(qhOffset + 4, 16);
                    var bias = type == GgmlType.Q5_0 ? 16 : 0;
                    for (var j = 0; j < 16; j++)
                    {
                        q[j] = ((qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10)) - bias;
                        q[j + 16] = ((qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10)) - bias;
                    }

                    return;
                }
            default:
                {
                    var offset = type switch { GgmlType.Q4_1 => 4, GgmlType.MXFP4 => 1, _ => 2 };
                    var qs = b.Slice(offset, 16);
                    ReadOnlySpan<sbyte> kv = type switch
                    {
                        GgmlType.IQ4_NL => BlockLayout.Iq4NlValues,
                        GgmlType.MXFP4 => BlockLayout.Mxfp4Values,
                        _ => default,
                    };
                    var bias = type == GgmlType.Q4_0 ? 8 : 0;
                    for (var j = 0; j < 16; j++)
                    {
                        int lo = qs[j] & 0xF, hi = qs[j] >> 4;
                        q[j] = kv.IsEmpty ? lo - bias : kv[lo];
                        q[j + 16] = kv.IsEmpty ? hi - bias : kv[hi];
                    }

                    return;
                }
        }
    }

    // Q4_0, Q5_0, Q8_0, IQ4_NL, MXFP4 against Q8_0: sumf += isum * (dx * dy).
    private static float Legacy(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int nb, BlockLayout w, BlockLayout a)
    {
        Span<int> q = stackalloc int[32];
        var sumf = 0f;
        for (var ib = 0; ib < nb; ib++)
        {
            var xb = x.Slice(ib * w.TypeSize, w.TypeSize);
            var yb = y.Slice(ib * a.TypeSize, a.TypeSize);
            Codes(w.Type, xb, q);
            int sumi0 = 0, sumi1 = 0;
            for (var j = 0; j < 16; j++)
            {
                sumi0 += q[j] * (sbyte)yb[2 + j];
                sumi1 += q[j + 16] * (sbyte)yb[18 + j];
            }

            var sumi = sumi0 + sumi1;
            var dy = Dequantizer.Half(yb, 0);
            switch (w.Type)
            {
                case GgmlType.Q4_0:
                    sumf += sumi * Dequantizer.Half(xb, 0) * dy;
                    break;
                case GgmlType.MXFP4:
                    sumf += dy * FloatBits.E8M0ToSingleHalf(xb[0]) * sumi;
                    break;
                case GgmlType.IQ4_NL:
                    sumf += dy * Dequantizer.Half(xb, 0) * sumi;
                    break;
                default:
                    sumf += sumi * (Dequantizer.Half(xb, 0) * dy);
                    break;
            }
        }

        return sumf;
    }

    // Q4_1, Q5_1 against Q8_1: sumf += (dx*dy)*isum + mx*sy, where sy = dy*Σqy is stored in the activation block.
    private static float LegacyWithMin(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, int nb, BlockLayout w)
    {
        Span<int> q = stackalloc int[32];
        var sumf = 0f;
        for (var ib = 0; ib < nb; ib++)
        {
            var xb = x.Slice(ib * w.TypeSize, w.TypeSize);
            var yb = y.Slice(ib * 36, 36);
            Codes(w.Type, xb, q);
            int sumi0 = 0, sumi1 = 0;
            for (var j = 0; j < 16; j++)
            {
                sumi0 += q[j] * (sbyte)yb[4 + j];
                sumi1 += q[j + 16] * (sbyte)yb[20 + j];
            }

            sumf += Dequantizer.Half(xb, 0) * Dequantizer.Half(yb, 0) * (sumi0 + sumi1) + Dequantizer.Half(xb, 2) * Dequantizer.Half(yb, 2);
        }

        return sumf;
    }
}
