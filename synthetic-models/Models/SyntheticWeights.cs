using Ferrum.Quantization;

namespace Ferrum.SyntheticModels;

/// <summary>
/// Random weights quantized with Ferrum's quantizers, deterministic per (seed, tensor name). With a row pool, only
/// that many rows per (role, format, row length) are quantized and every tensor row is a copy of a whole quantized
/// row drawn from the pool: each matrix is still valid quantizer output, distinct and at its own address, which is
/// what a demo needs of billions of weights without minutes of quantization.
/// </summary>
public sealed class SyntheticWeights(int seed, int rowPool)
{
    private readonly Dictionary<(string, GgmlType, int, float), byte[]> _pools = new();

    /// <summary>Gaussian floats with standard deviation <paramref name="std"/>, seeded by <paramref name="name"/>.</summary>
    public float[] Gaussian(string name, long count, float std, float mean = 0f)
    {
        var rng = new Random(Seed(name));
        var x = new float[count];
        for (long i = 0; i < count; i++)
        {
            x[i] = mean + (std * Normal(rng));
        }

        return x;
    }

    /// <summary>Quantizes <paramref name="values"/> (rows of <paramref name="columns"/>) in parallel.</summary>
    public static byte[] Quantize(GgmlType type, float[] values, int columns)
    {
        var info = GgmlTypeInfo.Get(type);
        if (columns % info.BlockSize != 0)
        {
            throw new ArgumentException($"row length {columns} is not a multiple of the {info.Name} block size {info.BlockSize}");
        }

        long rows = values.LongLength / columns;
        int rowBytes = checked((int)info.RowBytes(columns));
        var dst = new byte[checked(rowBytes * rows)];
        const int Chunk = 64;
        Parallel.For(0, (int)((rows + Chunk - 1) / Chunk), c =>
        {
            long r0 = (long)c * Chunk, r1 = Math.Min(rows, r0 + Chunk);
            Quantizer.Quantize(type, values.AsSpan((int)(r0 * columns), (int)((r1 - r0) * columns)), dst.AsSpan((int)(r0 * rowBytes), (int)((r1 - r0) * rowBytes)));
        });
        return dst;
    }

    /// <summary>
    /// <paramref name="rows"/> quantized rows of <paramref name="columns"/> Gaussian weights (std <paramref name="std"/>)
    /// for tensor <paramref name="name"/>; <paramref name="role"/> names the pool rows may be shared through.
    /// </summary>
    /// <param name="distinct">Quantize every row (no pool): for the token embedding, whose rows must differ per token.</param>
    public byte[] Rows(string name, string role, GgmlType type, int columns, long rows, float std, bool distinct = false)
    {
        if (distinct || rowPool <= 0 || rows <= rowPool)
        {
            return Quantize(type, Gaussian(name, rows * columns, std), columns);
        }

        var key = (role, type, columns, std);
        if (!_pools.TryGetValue(key, out var pool))
        {
            pool = Quantize(type, Gaussian("pool:" + role + ":" + type + ":" + columns, (long)rowPool * columns, std), columns);
            _pools[key] = pool;
        }

        int rowBytes = checked((int)GgmlTypeInfo.Get(type).RowBytes(columns));
        var data = new byte[checked(rowBytes * rows)];
        var rng = new Random(Seed(name));
        for (long r = 0; r < rows; r++)
        {
            Buffer.BlockCopy(pool, rng.Next(rowPool) * rowBytes, data, (int)(r * rowBytes), rowBytes);
        }

        return data;
    }

    /// <summary>A deterministic seed for <paramref name="name"/> (FNV-1a over the name and the model seed).</summary>
    public int Seed(string name)
    {
        uint h = 2166136261u ^ (uint)seed;
        foreach (var ch in name)
        {
            h = (h ^ ch) * 16777619u;
        }

        return (int)(h & 0x7fffffff);
    }

    /// <summary>A standard normal sample (Box-Muller).</summary>
    public static float Normal(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}
