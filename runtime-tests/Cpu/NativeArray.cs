using System.Runtime.InteropServices;

namespace Ferrum.Runtime.Tests.Cpu;

/// <summary>64-byte aligned native memory for kernel tests, freed on dispose.</summary>
internal sealed unsafe class NativeArray : IDisposable
{
    public NativeArray(long bytes)
    {
        Length = bytes;
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(64, bytes), 64);
        NativeMemory.Clear(Pointer, (nuint)Math.Max(64, bytes));
    }

    public byte* Pointer { get; private set; }

    public long Length { get; }

    public float* Floats => (float*)Pointer;

    public static NativeArray FromFloats(float[] values)
    {
        var a = new NativeArray(values.Length * 4L);
        values.AsSpan().CopyTo(new Span<float>(a.Pointer, values.Length));
        return a;
    }

    public void Dispose()
    {
        if (Pointer != null)
        {
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
        }
    }
}

/// <summary>Deterministic test data.</summary>
internal static class TestData
{
    public static float[] Gaussian(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            v[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return v;
    }

    /// <summary>ggml's normalized mean squared error: Σ(a-b)² / Σb².</summary>
    public static double Nmse(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }

        return num / den;
    }
}
