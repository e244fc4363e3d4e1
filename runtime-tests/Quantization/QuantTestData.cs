using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>Seeded test data and bitwise float comparison shared by the quantization tests.</summary>
internal static class QuantTestData
{
    /// <summary>The 16 weight formats of the quantization issue.</summary>
    public static readonly GgmlType[] WeightTypes =
    {
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.MXFP4,
    };

    public static TheoryData<GgmlType> WeightTypeData()
    {
        var data = new TheoryData<GgmlType>();
        foreach (var t in WeightTypes)
        {
            data.Add(t);
        }

        return data;
    }

    public static float[] Gaussian(int n, int seed, float sigma = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = sigma * (float)NextGaussian(rng);
        }

        return x;
    }

    /// <summary>Student-t with 3 degrees of freedom: heavy tails, occasional large outliers.</summary>
    public static float[] StudentT3(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (var i = 0; i < n; i++)
        {
            double chi2 = 0;
            for (var k = 0; k < 3; k++)
            {
                var g = NextGaussian(rng);
                chi2 += g * g;
            }

            x[i] = (float)(NextGaussian(rng) / Math.Sqrt(chi2 / 3));
        }

        return x;
    }

    public static double NextGaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static double Rmse(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            s += d * d;
        }

        return Math.Sqrt(s / a.Length);
    }

    /// <summary>Bitwise equality; a NaN matches only a NaN with the same bits (ggml and Ferrum must agree exactly).</summary>
    public static void AssertBitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var e = BitConverter.SingleToInt32Bits(expected[i]);
            var a = BitConverter.SingleToInt32Bits(actual[i]);
            if (e != a)
            {
                Assert.Fail($"{what}: element {i}: ggml {expected[i]:R} (0x{e:X8}), Ferrum {actual[i]:R} (0x{a:X8})");
            }
        }
    }
}
