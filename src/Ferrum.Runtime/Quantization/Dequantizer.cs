using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>
/// Scalar reference dequantization, bit-identical to ggml's to_float (ggml-quants.c) for every supported format:
/// the same integer decoding and the same float operations in the same order, so the result is exact, not close.
/// </summary>
public static partial class Dequantizer
{
    /// <summary>True for every type <see cref="Dequantize"/> decodes (the formats of <see cref="Formats.BlockLayout"/>).</summary>
    public static bool Supports(GgmlType type) => BlockLayout.TryGet(type, out _);

    /// <summary>Decodes whole blocks of <paramref name="type"/> into floats.</summary>
    /// <param name="type">A weight format, or the activation formats Q8_1 / Q8_K (decoded as d·q).</param>
    /// <param name="blocks">Exactly <c>dst.Length / blockSize</c> blocks.</param>
    /// <param name="dst">Output; its length is the element count and must be a multiple of the block size.</param>
    /// <exception cref="ArgumentException">Unsupported type or mismatched lengths.</exception>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> blocks, Span<float> dst)
    {
        var layout = QuantArgs.Layout(type, nameof(type), allowActivationTypes: true);
        var n = QuantArgs.Blocks(layout, dst.Length, blocks.Length, nameof(dst), nameof(blocks));
        switch (type)
        {
            case GgmlType.F32:
                for (var i = 0; i < n; i++)
                {
                    dst[i] = BinaryPrimitives.ReadSingleLittleEndian(blocks.Slice(i * 4));
                }

                break;
            case GgmlType.F16:
                for (var i = 0; i < n; i++)
                {
                    dst[i] = FloatBits.HalfToSingle(BinaryPrimitives.ReadUInt16LittleEndian(blocks.Slice(i * 2)));
                }

                break;
            case GgmlType.BF16:
                for (var i = 0; i < n; i++)
                {
                    dst[i] = FloatBits.BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(blocks.Slice(i * 2)));
                }

                break;
            default:
                for (var i = 0; i < n; i++)
                {
                    DequantizeBlock(type, blocks.Slice(i * layout.TypeSize, layout.TypeSize), dst.Slice(i * layout.BlockSize, layout.BlockSize));
                }

                break;
        }
    }

    private static void DequantizeBlock(GgmlType type, ReadOnlySpan<byte> b, Span<float> y)
    {
        switch (type)
        {
            case GgmlType.Q4_0: Q4_0(b, y); break;
            case GgmlType.Q4_1: Q4_1(b, y); break;
            case GgmlType.Q5_0: Q5_0(b, y); break;
            case GgmlType.Q5_1: Q5_1(b, y); break;
            case GgmlType.Q8_0: Q8_0(b, y); break;
            case GgmlType.Q2_K: Q2_K(b, y); break;
            case GgmlType.Q3_K: Q3_K(b, y); break;
            case GgmlType.Q4_K: Q4_K(b, y); break;
            case GgmlType.Q5_K: Q5_K(b, y); break;
            case GgmlType.Q6_K: Q6_K(b, y); break;
            case GgmlType.IQ4_NL: IQ4_NL(b, y); break;
            case GgmlType.IQ4_XS: IQ4_XS(b, y); break;
            case GgmlType.MXFP4: MXFP4(b, y); break;
            case GgmlType.Q8_1: Q8_1(b, y); break;
            case GgmlType.Q8_K: Q8_K(b, y); break;
            default: throw new ArgumentException($"ggml type {type} is not a supported weight format", nameof(type));
        }
    }

    internal static float Half(ReadOnlySpan<byte> b, int offset) => FloatBits.HalfToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(offset)));

    private static void Q4_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var qs = b.Slice(2, 16);
        for (var j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0xF) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    private static void Q4_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var m = Half(b, 2);
        var qs = b.Slice(4, 16);
        for (var j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0xF) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    private static void Q5_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var qh = BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(2));
        var qs = b.Slice(6, 16);
        for (var j = 0; j < 16; j++)
        {
            var h0 = (int)((qh >> j) << 4) & 0x10;
            var h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (((qs[j] & 0xF) | h0) - 16) * d;
            y[j + 16] = (((qs[j] >> 4) | h1) - 16) * d;
        }
    }

    private static void Q5_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var m = Half(b, 2);
        var qh = BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(4));
        var qs = b.Slice(8, 16);
        for (var j = 0; j < 16; j++)
        {
            var h0 = (int)((qh >> j) << 4) & 0x10;
            var h1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = ((qs[j] & 0xF) | h0) * d + m;
            y[j + 16] = ((qs[j] >> 4) | h1) * d + m;
        }
    }

    private static void Q8_0(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var qs = MemoryMarshal.Cast<byte, sbyte>(b.Slice(2, 32));
        for (var j = 0; j < 32; j++)
        {
            y[j] = qs[j] * d;
        }
    }

    // Activation blocks: Q8_1 is Q8_0 with s between d and qs; Q8_K has an fp32 d (ggml dequantize_row_q8_K).
    private static void Q8_1(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        for (var j = 0; j < 32; j++)
        {
            y[j] = (sbyte)b[4 + j] * d;
        }
    }

    private static void Q8_K(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = BinaryPrimitives.ReadSingleLittleEndian(b);
        for (var j = 0; j < 256; j++)
        {
            y[j] = d * (sbyte)b[4 + j];
        }
    }

    private static void IQ4_NL(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = Half(b, 0);
        var qs = b.Slice(2, 16);
        var kv = BlockLayout.Iq4NlValues;
        for (var j = 0; j < 16; j++)
        {
            y[j] = d * kv[qs[j] & 0xF];
            y[j + 16] = d * kv[qs[j] >> 4];
        }
    }

    private static void MXFP4(ReadOnlySpan<byte> b, Span<float> y)
    {
        var d = FloatBits.E8M0ToSingleHalf(b[0]);
        var qs = b.Slice(1, 16);
        var kv = BlockLayout.Mxfp4Values;
        for (var j = 0; j < 16; j++)
        {
            y[j] = kv[qs[j] & 0xF] * d;
            y[j + 16] = kv[qs[j] >> 4] * d;
        }
    }
}
