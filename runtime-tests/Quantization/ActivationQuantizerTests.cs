using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>Activation quantizers produce the same bytes as ggml's from_float_ref for Q8_K, Q8_0 and Q8_1.</summary>
public class ActivationQuantizerTests
{
    public static TheoryData<GgmlType, string> Cases()
    {
        var data = new TheoryData<GgmlType, string>();
        foreach (var t in new[] { GgmlType.Q8_K, GgmlType.Q8_0, GgmlType.Q8_1 })
        {
            foreach (var d in new[] { "gaussian", "student-t", "ties", "edges" })
            {
                data.Add(t, d);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesGgmlReferenceBytes(GgmlType type, string distribution)
    {
        var x = Input(distribution, 256 * 64);
        var bytes = ActivationQuantizer.ByteCount(type, x.Length);
        var expected = new byte[bytes];
        var actual = new byte[bytes];
        GgmlQuant.FromFloatRef((int)type, x, expected);
        ActivationQuantizer.Quantize(type, x, actual);
        for (var i = 0; i < bytes; i++)
        {
            if (expected[i] != actual[i])
            {
                Assert.Fail($"{type}/{distribution}: byte {i} (block {i / (bytes / (x.Length / (type == GgmlType.Q8_K ? 256 : 32)))}): ggml {expected[i]}, Ferrum {actual[i]}");
            }
        }
    }

    /// <summary>The CPU backend's SIMD from_float, which ggml's mul_mat actually runs, gives the same bytes on ordinary data.</summary>
    [Theory]
    [InlineData(GgmlType.Q8_K)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q8_1)]
    public void MatchesGgmlCpuQuantizerOnGaussianData(GgmlType type)
    {
        var x = QuantTestData.Gaussian(256 * 32, 99, 0.5f);
        var bytes = ActivationQuantizer.ByteCount(type, x.Length);
        var expected = new byte[bytes];
        var actual = new byte[bytes];
        GgmlQuant.FromFloatCpu((int)type, x, expected);
        ActivationQuantizer.Quantize(type, x, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void RejectsBadLengths()
    {
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.QuantizeQ8K(new float[255], new byte[292]));
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.QuantizeQ8_0(new float[32], new byte[33]));
        Assert.Throws<ArgumentException>(() => ActivationQuantizer.Quantize(GgmlType.Q4_K, new float[256], new byte[144]));
    }

    private static float[] Input(string distribution, int n)
    {
        var rng = new Random(distribution.Length * 7919);
        switch (distribution)
        {
            case "gaussian":
                return QuantTestData.Gaussian(n, 11, 0.7f);
            case "student-t":
                return QuantTestData.StudentT3(n, 12);
            case "ties":
                {
                    // Values on exact multiples of amax/254 and amax/254.5 land on rounding ties after scaling.
                    var x = new float[n];
                    for (var i = 0; i < n; i++)
                    {
                        var block = i / 32;
                        var amax = 1f + block % 7;
                        x[i] = i % 32 == 0 ? amax : amax * (rng.Next(-254, 255) / 254f) * (block % 2 == 0 ? 1f : 0.5f);
                    }

                    return x;
                }
            default:
                {
                    // Zero blocks, negative zero, a negative extreme, tiny (subnormal) values, fp16-overflowing values.
                    var x = new float[n];
                    for (var i = 0; i < n; i++)
                    {
                        var group = i / 256 % 8;
                        x[i] = group switch
                        {
                            0 => 0f,
                            1 => -0f,
                            2 => i % 256 == 5 ? -3f : (float)rng.NextDouble(),
                            3 => 1e-40f * (rng.Next(-100, 100)),
                            4 => 1e-6f * (float)QuantTestData.NextGaussian(rng),
                            5 => 1e5f * (float)QuantTestData.NextGaussian(rng),
                            6 => i % 64 < 32 ? 0f : (float)QuantTestData.NextGaussian(rng),
                            _ => rng.Next(-3, 4),
                        };
                    }

                    return x;
                }
        }
    }
}
