using System.Buffers.Binary;
using Ferrum.GgmlReference;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>Reference dequantization is bit-identical to ggml's to_float on random and edge-case blocks.</summary>
public class DequantizerTests
{
    /// <summary>fp16 scale patterns: ±0, subnormals, smallest normal, max, ±inf, quiet/signalling NaNs, ±1.</summary>
    private static readonly ushort[] HalfEdges =
    {
        0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE01, 0x7FFF, 0x3C00, 0xBC00, 0x1234,
    };

    public static TheoryData<GgmlType> Types() => QuantTestData.WeightTypeData();

    [Theory]
    [MemberData(nameof(Types))]
    public void MatchesGgmlBitForBit(GgmlType type)
    {
        var blocks = BuildBlocks(type);
        var layout = BlockLayout.Get(type);
        var elements = blocks.Length / layout.TypeSize * layout.BlockSize;
        var expected = new float[elements];
        var actual = new float[elements];
        if (type == GgmlType.F32)
        {
            // ggml has no to_float for F32: its data already is the floats; compare against the raw bits.
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(blocks).CopyTo(expected);
        }
        else
        {
            GgmlQuant.ToFloat((int)type, blocks, expected);
        }

        Dequantizer.Dequantize(type, blocks, actual);
        QuantTestData.AssertBitEqual(expected, actual, type.ToString());
    }

    /// <summary>Activation blocks decode too: Q8_K like ggml's dequantize_row_q8_K, Q8_1 like the Q8_0 block with the same d and qs.</summary>
    [Fact]
    public void ActivationBlocksDecodeLikeGgml()
    {
        var x = QuantTestData.StudentT3(256 * 8, 5);
        var q8k = new byte[292 * 8];
        ActivationQuantizer.QuantizeQ8K(x, q8k);
        var expected = new float[x.Length];
        var actual = new float[x.Length];
        GgmlQuant.DequantizeRowQ8K(q8k, expected);
        Dequantizer.Dequantize(GgmlType.Q8_K, q8k, actual);
        QuantTestData.AssertBitEqual(expected, actual, "Q8_K");

        var q81 = new byte[36 * 64];
        ActivationQuantizer.QuantizeQ8_1(x, q81);
        var q80 = new byte[34 * 64];
        for (var b = 0; b < 64; b++)
        {
            q81.AsSpan(36 * b, 2).CopyTo(q80.AsSpan(34 * b));
            q81.AsSpan(36 * b + 4, 32).CopyTo(q80.AsSpan(34 * b + 2));
        }

        GgmlQuant.ToFloat((int)GgmlType.Q8_0, q80, expected);
        Dequantizer.Dequantize(GgmlType.Q8_1, q81, actual);
        QuantTestData.AssertBitEqual(expected, actual, "Q8_1");
    }

    [Fact]
    public void RejectsMismatchedLengths()
    {
        var ex = Assert.Throws<ArgumentException>(() => Dequantizer.Dequantize(GgmlType.Q4_K, new byte[144], new float[255]));
        Assert.Contains("Q4_K", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Dequantizer.Dequantize(GgmlType.Q4_K, new byte[143], new float[256]));
        Assert.Contains("144", ex.Message);
        Assert.Throws<ArgumentException>(() => Dequantizer.Dequantize(GgmlType.IQ2_XXS, new byte[66], new float[256]));
    }

    private static byte[] BuildBlocks(GgmlType type)
    {
        var layout = BlockLayout.Get(type);
        var rng = new Random(0x5eed + (int)type);
        if (layout.BlockSize == 1)
        {
            // Float formats: every 16-bit pattern, or random and special fp32 bits.
            var count = type == GgmlType.F32 ? 70_000 : 65_536;
            var raw = new byte[count * layout.TypeSize];
            for (var i = 0; i < count; i++)
            {
                if (type == GgmlType.F32)
                {
                    var bits = i < HalfEdges.Length ? (uint)HalfEdges[i] << 16 : (uint)rng.NextInt64(0, 1L << 32);
                    BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(4 * i), bits);
                }
                else
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(2 * i), (ushort)i);
                }
            }

            return raw;
        }

        const int randomBlocks = 300;
        const int systematic = 256;
        var n = randomBlocks + systematic;
        var data = new byte[n * layout.TypeSize];
        rng.NextBytes(data);
        for (var b = 0; b < n; b++)
        {
            var block = data.AsSpan(b * layout.TypeSize, layout.TypeSize);
            foreach (var f in layout.Fields)
            {
                var field = block.Slice(f.Offset, f.Length);
                switch (f.Kind)
                {
                    case BlockFieldKind.Float16Scale:
                    case BlockFieldKind.Float16Min:
                        // Systematic blocks walk every edge pattern (scale and min crossed); random blocks get sane scales.
                        var h = b >= randomBlocks
                            ? HalfEdges[(f.Kind == BlockFieldKind.Float16Scale ? b : b / HalfEdges.Length) % HalfEdges.Length]
                            : FloatBits.SingleToHalf((float)(rng.NextDouble() * 2 - 1) * 0.01f);
                        BinaryPrimitives.WriteUInt16LittleEndian(field, h);
                        break;
                    case BlockFieldKind.E8M0Scale:
                        field[0] = (byte)b; // all 256 exponents (b wraps over 556 blocks)
                        break;
                    case BlockFieldKind.Nibbles:
                    case BlockFieldKind.Crumbs:
                    case BlockFieldKind.HighBits:
                    case BlockFieldKind.HighBitPairs:
                        if (b >= randomBlocks)
                        {
                            // Every byte value at every position across the systematic blocks.
                            for (var j = 0; j < field.Length; j++)
                            {
                                field[j] = (byte)(b + 37 * j);
                            }
                        }

                        break;
                }
            }

            if (b >= randomBlocks)
            {
                SystematicScales(type, block, b - randomBlocks);
            }
        }

        return data;
    }

    // Every 6-bit scale/min (Q4_K, Q5_K, Q3_K, IQ4_XS), 4-bit pair (Q2_K) and int8 scale (Q6_K) value.
    private static void SystematicScales(GgmlType type, Span<byte> block, int k)
    {
        switch (type)
        {
            case GgmlType.Q4_K:
            case GgmlType.Q5_K:
                {
                    Span<byte> sc = stackalloc byte[8];
                    Span<byte> mn = stackalloc byte[8];
                    for (var j = 0; j < 8; j++)
                    {
                        sc[j] = (byte)((k + 8 * j) & 63);
                        mn[j] = (byte)((k * 5 + 3 * j) & 63);
                    }

                    var packed = block.Slice(4, 12);
                    packed.Clear();
                    KQuantScales.PackScaleMin(sc, mn, packed);
                    for (var j = 0; j < 8; j++)
                    {
                        KQuantScales.GetScaleMin(j, packed, out var s, out var m);
                        Assert.Equal(sc[j], s);
                        Assert.Equal(mn[j], m);
                    }

                    break;
                }
            case GgmlType.Q3_K:
                {
                    Span<int> sc = stackalloc int[16];
                    Span<int> back = stackalloc int[16];
                    for (var j = 0; j < 16; j++)
                    {
                        sc[j] = (k + 4 * j) & 63;
                    }

                    KQuantScales.PackQ3(sc, block.Slice(96, 12));
                    KQuantScales.UnpackQ3(block.Slice(96, 12), back);
                    Assert.True(sc.SequenceEqual(back));
                    break;
                }
            case GgmlType.Q2_K:
                for (var j = 0; j < 16; j++)
                {
                    block[j] = (byte)(k + 16 * j);
                }

                break;
            case GgmlType.Q6_K:
                for (var j = 0; j < 16; j++)
                {
                    block[192 + j] = (byte)(k + 16 * j);
                }

                break;
            case GgmlType.IQ4_XS:
                // ls = k%64 for sub-block k%8 (others random): covers every 6-bit scale at every position.
                var ib = k % 8;
                var ls = (k / 8 * 9 + ib) & 63;
                block[4 + ib / 2] = (byte)((block[4 + ib / 2] & ~(0xF << (4 * (ib % 2)))) | ((ls & 0xF) << (4 * (ib % 2))));
                var h = BinaryPrimitives.ReadUInt16LittleEndian(block.Slice(2));
                h = (ushort)((h & ~(3 << (2 * ib))) | ((ls >> 4) << (2 * ib)));
                BinaryPrimitives.WriteUInt16LittleEndian(block.Slice(2), h);
                break;
        }
    }
}
