using Ferrum.Backends.Cpu;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;
using Ferrum.Runtime.Tests.Moe;

namespace Ferrum.Runtime.Tests.Reliability;

/// <summary>
/// Issue 16, "inconsistent numeric edge cases": the documented rule is ggml's, NaN and ±∞ propagate. A token whose input
/// holds one NaN or ±∞ gives an all-NaN output row for every weight format (q4_K gave zeros before); the other tokens of
/// the batch are exactly what they are without it. Huge finite inputs (1e20) do what ggml does on the same bytes.
/// </summary>
public sealed class NumericEdgeTests
{
    public static TheoryData<GgmlType, string, float> NonFinite()
    {
        var d = new TheoryData<GgmlType, string, float>();
        foreach (var (t, a) in new[] { (GgmlType.Q4_K, "qwen3moe"), (GgmlType.Q8_0, "qwen2moe"), (GgmlType.MXFP4, "gpt-oss"), (GgmlType.Q6_K, "deepseek2"), (GgmlType.Q4_0, "olmoe") })
        {
            d.Add(t, a, float.PositiveInfinity);
            d.Add(t, a, float.NegativeInfinity);
            d.Add(t, a, float.NaN);
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(NonFinite))]
    public void One_non_finite_activation_gives_NaN_for_its_token_only(GgmlType type, string arch, float bad)
    {
        using var l = new MoeTestLayer(type, arch, 191);
        const int h = MoeTestLayer.Hidden;
        var x = TestData.Gaussian(3 * h, 19);
        var clean = l.Ferrum(x, threads: 2);
        var hostile = (float[])x.Clone();
        hostile[h + 37] = bad; // token 1
        var y = l.Ferrum(hostile, threads: 2);
        Assert.All(y.AsSpan(h, h).ToArray(), v => Assert.True(float.IsNaN(v), $"{type}: token 1 output {v}, expected NaN"));
        Assert.Equal(clean.AsSpan(0, h).ToArray(), y.AsSpan(0, h).ToArray());
        Assert.Equal(clean.AsSpan(2 * h, h).ToArray(), y.AsSpan(2 * h, h).ToArray());
    }

    /// <summary>
    /// What ggml itself does with one +∞ activation (mul_mat_id on the same bytes, routed as the finite input routes,
    /// since an ∞ logit has no routing): q8_0 and mxfp4 give NaN for that token, but q4_K gives exactly 0 — ggml's own
    /// inconsistency, the one issue 16 saw in Ferrum (which matched ggml bit for bit). Ferrum now gives NaN for every
    /// format: it follows ggml's propagation rule and deliberately not ggml's q4_K·q8_K artifact.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_K, false)]
    [InlineData(GgmlType.Q8_0, true)]
    [InlineData(GgmlType.MXFP4, true)]
    public void An_infinite_activation_in_ggml_and_in_Ferrum(GgmlType type, bool ggmlGivesNaN)
    {
        using var l = new MoeTestLayer(type, type == GgmlType.MXFP4 ? "olmoe" : "qwen3moe", 193);
        const int h = MoeTestLayer.Hidden;
        var x = TestData.Gaussian(2 * h, 29);
        var ggml = l.GgmlWithInfinity(x, h + 11, 2);
        Assert.All(ggml.AsSpan(0, h).ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(ggml.AsSpan(h, h).ToArray(), v => Assert.True(ggmlGivesNaN ? float.IsNaN(v) : v == 0f, $"ggml {type}: {v}"));
        x[h + 11] = float.PositiveInfinity;
        var ours = l.Ferrum(x, threads: 2);
        Assert.All(ours.AsSpan(h, h).ToArray(), v => Assert.True(float.IsNaN(v), $"Ferrum {type}: {v}"));
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, "qwen3moe")]
    [InlineData(GgmlType.Q8_0, "olmoe")]
    public void Huge_inputs_behave_like_ggml(GgmlType type, string arch)
    {
        // ggml on the same quantized bytes (mul_mat_id; routing from the float router in double precision).
        using var l = new MoeTestLayer(type, arch, 192);
        const int h = MoeTestLayer.Hidden;
        var x = TestData.Gaussian(2 * h, 23);
        for (int i = 0; i < h; i++)
        {
            x[i] *= 1e20f; // token 0 huge, token 1 ordinary
        }

        var ours = l.Ferrum(x, threads: 2);
        var ggml = l.Ggml(x, 2);
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.True(float.IsNaN(ours[i]) == float.IsNaN(ggml[i]) && float.IsInfinity(ours[i]) == float.IsInfinity(ggml[i]),
                $"{type} element {i}: Ferrum {ours[i]}, ggml {ggml[i]}");
        }

        double nmse = TestData.Nmse(ours.AsSpan(h), ggml.AsSpan(h));
        Assert.True(nmse < 5e-4, $"ordinary token next to a huge one: NMSE {nmse:E2}");
        var finite = Enumerable.Range(0, h).Where(i => float.IsFinite(ours[i])).ToArray();
        if (finite.Length > 0)
        {
            double num = 0, den = 0;
            foreach (var i in finite)
            {
                num += Math.Pow((double)ours[i] - ggml[i], 2);
                den += Math.Pow(ggml[i], 2);
            }

            Assert.True(num <= 5e-4 * den, $"huge token: relative error {num / den:E2}");
        }
    }

    [Fact]
    public unsafe void Activation_quantizers_give_a_NaN_scale_to_non_finite_blocks_only()
    {
        foreach (var type in new[] { GgmlType.Q8_K, GgmlType.Q8_0, GgmlType.Q8_1 })
        {
            var x = TestData.Gaussian(512, 3);
            x[300] = float.PositiveInfinity;
            var bytes = new byte[ActivationQuant.RowBytes(type, 512)];
            var reference = new byte[bytes.Length];
            var clean = (float[])x.Clone();
            clean[300] = 0.5f;
            fixed (float* px = x, pc = clean)
            fixed (byte* pb = bytes, pr = reference)
            {
                ActivationQuant.Quantize(type, px, pb, 512);
                ActivationQuant.Quantize(type, pc, pr, 512);
            }

            int block = type == GgmlType.Q8_K ? 256 : 32, blockBytes = bytes.Length / (512 / block);
            int bad = 300 / block;
            var scale = type == GgmlType.Q8_K ? BitConverter.ToSingle(bytes, bad * blockBytes) : (float)BitConverter.ToHalf(bytes, bad * blockBytes);
            Assert.True(float.IsNaN(scale), $"{type}: scale of the block holding ∞ is {scale}");

            // Every other block is the ggml reference quantization, byte for byte.
            for (int b = 0; b < 512 / block; b++)
            {
                if (b != bad)
                {
                    Assert.Equal(reference.AsSpan(b * blockBytes, blockBytes).ToArray(), bytes.AsSpan(b * blockBytes, blockBytes).ToArray());
                }
            }
        }
    }
}
