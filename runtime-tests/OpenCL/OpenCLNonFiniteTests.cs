using Ferrum.Backends.OpenCL;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;
using Xunit.Abstractions;
using MoeArchLayer = Ferrum.Runtime.Tests.Moe.MoeTestLayer;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// The NaN rule of docs/reliability.md on the OpenCL device: a token whose input holds a NaN or ±∞ gets an all-NaN
/// output row whatever the weight format (the routing kernel gives it NaN weights over valid expert ids), and the other
/// tokens of the batch match the CPU backend (which applies the same rule) and the device's own output for the batch
/// without the bad values, bit for bit. Decode (1 token, mat-vec) and prefill (17 tokens, mat-vec and tiles).
/// </summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLNonFiniteTests(OpenCLFixture fixture, ITestOutputHelper output)
{
    private const int H = MoeArchLayer.Hidden;

    public static TheoryData<string, GgmlType, bool> Cases() => new()
    {
        { "qwen3moe", GgmlType.Q4_K, false },
        { "qwen3moe", GgmlType.F16, false },
        { "qwen2moe", GgmlType.Q8_0, false },
        { "deepseek2", GgmlType.Q8_0, true },
        { "gpt-oss", GgmlType.MXFP4, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Non_finite_tokens_give_NaN_rows_and_leave_the_others_alone(string arch, GgmlType type, bool groupLimited)
    {
        using var w = new MoeArchLayer(type, arch, seed: 610 + (int)type, groupLimited);
        using var moe = w.Layer();
        using var layer = new OpenCLMoeExecutor(fixture.Context, moe, OpenCLFixture.Sources, OpenCLFixture.Options);
        var name = $"{arch} {GgmlTypeInfo.Get(type).Name}";

        // Decode: one token holding a NaN, then one holding -∞.
        foreach (var bad in new[] { float.NaN, float.NegativeInfinity })
        {
            var x1 = TestData.Gaussian(H, 611);
            x1[5] = bad;
            var y1 = new float[H];
            layer.Forward(x1, y1, OpenCLMoePath.MatVec);
            AssertAllNaN(y1, 0, $"{name} decode {bad}");
        }

        // Prefill: token 1 holds a NaN, token 2 a +∞, the other 15 are finite.
        const int tokens = 17;
        var clean = TestData.Gaussian(tokens * H, 612);
        var x = (float[])clean.Clone();
        x[H + 3] = float.NaN;
        x[(2 * H) + 200] = float.PositiveInfinity;
        var cpu = w.Ferrum(x, threads: 2, maxTokens: tokens);
        AssertAllNaN(cpu, 1, $"{name} CPU");
        AssertAllNaN(cpu, 2, $"{name} CPU");

        // The routing itself, as the CPU executor routes such tokens: ids 0 .. k-1 (valid), NaN weights. (On pocl,
        // which does not use fast math, NaN and ∞ mostly reach the output without this, but e.g. sigmoid gating turns
        // a +∞ logit into the finite weight 1; the rule must not rest on such accidents.)
        var ids = new int[tokens * MoeArchLayer.TopK];
        var weights = new float[ids.Length];
        layer.Route(x, ids, weights);
        var (refIds, _, _) = w.Route(clean);
        for (var t = 0; t < tokens; t++)
        {
            for (var j = 0; j < MoeArchLayer.TopK; j++)
            {
                var i = (t * MoeArchLayer.TopK) + j;
                if (t is 1 or 2)
                {
                    Assert.True(ids[i] == j && float.IsNaN(weights[i]), $"{name}: token {t} slot {j} routed to {ids[i]} with weight {weights[i]}");
                }
                else
                {
                    Assert.True(ids[i] == refIds[i] && float.IsFinite(weights[i]), $"{name}: token {t} slot {j} routed to {ids[i]} ({weights[i]}), reference {refIds[i]}");
                }
            }
        }

        foreach (var path in new[] { OpenCLMoePath.MatVec, OpenCLMoePath.Tiled })
        {
            var cleanY = new float[x.Length];
            layer.Forward(clean, cleanY, path);
            var y = new float[x.Length];
            layer.Forward(x, y, path);
            AssertAllNaN(y, 1, $"{name} {path}");
            AssertAllNaN(y, 2, $"{name} {path}");
            var good = Enumerable.Range(0, tokens).Where(t => t is not 1 and not 2).ToArray();
            var yGood = Rows(y, good);
            Assert.All(yGood, v => Assert.True(float.IsFinite(v), $"{name} {path}: a finite token's output {v}"));
            Assert.Equal(Rows(cleanY, good), yGood);
            var nmse = TestData.Nmse(yGood, Rows(cpu, good));
            output.WriteLine($"{name} {path}: finite tokens NMSE vs CPU {nmse:E2}");
            Assert.True(nmse <= 5e-4, $"{name} {path}: finite tokens NMSE vs CPU {nmse:E2}");
        }
    }

    private static void AssertAllNaN(float[] y, int token, string what) =>
        Assert.All(y.AsSpan(token * H, H).ToArray(), v => Assert.True(float.IsNaN(v), $"{what}: token {token} output {v}, expected NaN"));

    private static float[] Rows(float[] y, int[] tokens) => tokens.SelectMany(t => y.AsSpan(t * H, H).ToArray()).ToArray();
}
