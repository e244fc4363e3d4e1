using System.Buffers.Binary;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>
/// Structure-blind mutations of a valid GGUF image: bit flips, byte overwrites, truncations, "interesting" values
/// written over u32/u64 fields (lengths, counts, types, dims, offsets), insertions, deletions and duplicated chunks.
/// Shared by the mutation test and the fuzz/ campaign.
/// </summary>
public static class GgufMutator
{
    private static readonly ulong[] Interesting64 =
    [
        0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 63, 64, 255, 256, 4096, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000,
        0x3FFF_FFFF, 0x4000_0000, 0x4000_0001, long.MaxValue, 0x8000_0000_0000_0000, ulong.MaxValue, ulong.MaxValue - 7,
        (ulong)long.MaxValue / 2 + 1, 1UL << 40,
    ];

    private static readonly uint[] Interesting32 = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 24, 30, 31, 39, 40, 42, 43, 255, 256, 0x0300_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF];

    public static byte[] Mutate(byte[] original, Random rng)
    {
        var data = (byte[])original.Clone();
        var ops = 1 + rng.Next(3);
        for (var k = 0; k < ops; k++)
        {
            data = MutateOnce(data, rng);
        }

        return data;
    }

    private static byte[] MutateOnce(byte[] data, Random rng)
    {
        if (data.Length == 0)
        {
            return [(byte)rng.Next(256)];
        }

        switch (rng.Next(10))
        {
            case 0:
            case 1:
                {
                    var flips = 1 + rng.Next(8);
                    for (var i = 0; i < flips; i++)
                    {
                        data[rng.Next(data.Length)] ^= (byte)(1 << rng.Next(8));
                    }

                    return data;
                }

            case 2:
                data[rng.Next(data.Length)] = (byte)rng.Next(256);
                return data;
            case 3:
                return data[..rng.Next(data.Length)];
            case 4:
            case 5:
                {
                    // header counts live at 8 and 16; elsewhere any position may be a length, count or offset.
                    var pos = rng.Next(4) == 0 ? (rng.Next(2) == 0 ? 8 : 16) : rng.Next(data.Length);
                    if (pos + 8 > data.Length)
                    {
                        return data;
                    }

                    var v = rng.Next(4) == 0 ? (ulong)rng.NextInt64() : Interesting64[rng.Next(Interesting64.Length)];
                    if (rng.Next(3) == 0)
                    {
                        v = (ulong)data.Length - (ulong)pos + (ulong)(rng.Next(17) - 8); // lengths near the end of the file
                    }

                    BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(pos), v);
                    return data;
                }

            case 6:
                {
                    var pos = rng.Next(4) == 0 ? 4 : rng.Next(data.Length);
                    if (pos + 4 > data.Length)
                    {
                        return data;
                    }

                    BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(pos), Interesting32[rng.Next(Interesting32.Length)]);
                    return data;
                }

            case 7:
                {
                    var pos = rng.Next(data.Length + 1);
                    var insert = new byte[1 + rng.Next(16)];
                    rng.NextBytes(insert);
                    return [.. data.AsSpan(0, pos), .. insert, .. data.AsSpan(pos)];
                }

            case 8:
                {
                    var pos = rng.Next(data.Length);
                    var len = 1 + rng.Next(Math.Min(32, data.Length - pos));
                    return [.. data.AsSpan(0, pos), .. data.AsSpan(pos + len)];
                }

            default:
                {
                    var src = rng.Next(data.Length);
                    var len = 1 + rng.Next(Math.Min(64, data.Length - src));
                    var dst = rng.Next(data.Length);
                    var n = Math.Min(len, data.Length - dst);
                    data.AsSpan(src, n).ToArray().CopyTo(data.AsSpan(dst));
                    return data;
                }
        }
    }
}
