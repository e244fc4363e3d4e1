using System.Diagnostics;
using Ferrum.Backends;
using Ferrum.Backends.OpenCL;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;
using Xunit.Abstractions;
using MoeArchLayer = Ferrum.Runtime.Tests.Moe.MoeTestLayer;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// Every architecture the CPU path runs, on the OpenCL device: qwen3moe, qwen2moe (sigmoid-gated shared expert), olmoe,
/// Mixtral (llama), deepseek2 (sigmoid scoring, exp_probs_b, group-limited top-k, norm and scale, ungated shared
/// expert) and gpt-oss (router bias, gate/up/down expert biases, swiglu_oai, softmax over the selected). Each is compared
/// with the exact float reference of <see cref="MoeArchLayer"/> (ggml-dequantized weights, double math, routing from
/// the independent <c>ReferenceRouting</c>) at decode (1 token, mat-vec kernels) and prefill (7 tokens, both the mat-vec
/// and the tiled kernels).
/// </summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLArchitectureTests(OpenCLFixture fixture, ITestOutputHelper output)
{
    private const double MaxNmse = 1e-3;

    public static TheoryData<string, GgmlType, bool> Cases() => new()
    {
        { "qwen3moe", GgmlType.Q4_K, false },
        { "qwen2moe", GgmlType.Q8_0, false },
        { "olmoe", GgmlType.Q5_0, false },
        { "llama", GgmlType.Q6_K, false },
        { "deepseek2", GgmlType.Q3_K, true },
        { "deepseek2", GgmlType.IQ4_XS, false },
        { "gpt-oss", GgmlType.MXFP4, false },
        { "gpt-oss", GgmlType.Q4_0, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_architecture_matches_the_exact_reference_at_decode_and_prefill(string arch, GgmlType type, bool groupLimited)
    {
        using var w = new MoeArchLayer(type, arch, seed: 500 + (int)type, groupLimited);
        using var moe = w.Layer();
        IMoeBackend backend = new OpenCLBackend(fixture.Context, OpenCLFixture.Sources, OpenCLFixture.Options);
        Assert.True(backend.Supports(moe, out var why), why);
        var sw = Stopwatch.StartNew();
        using var layer = (OpenCLMoeExecutor)backend.Create(moe);
        if (w.HasShared)
        {
            Assert.Contains(layer.KernelPaths, p => p.StartsWith("shared gate/up: ", StringComparison.Ordinal));
        }

        if (groupLimited)
        {
            Assert.Contains("2 of 4 groups", layer.KernelPaths[0]);
        }

        foreach (var (tokens, path) in new[] { (1, OpenCLMoePath.MatVec), (7, OpenCLMoePath.MatVec), (7, OpenCLMoePath.Tiled) })
        {
            var x = TestData.Gaussian(tokens * MoeArchLayer.Hidden, 900 + tokens);
            var y = new float[x.Length];
            layer.Forward(x, y, path);
            var exact = w.FloatReference(x);
            Assert.True(exact.Any(v => Math.Abs(v) > 1e-3), "degenerate reference output");
            var nmse = TestData.Nmse(y, exact);
            output.WriteLine($"{arch} {GgmlTypeInfo.Get(type).Name}{(groupLimited ? " grouped" : string.Empty)} T={tokens} {path}: NMSE {nmse:E2}");
            Assert.True(nmse <= MaxNmse, $"{arch} {type} T={tokens} {path}: NMSE {nmse:E2} against the exact reference");
        }

        output.WriteLine($"{arch}: {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Group_limited_routing_selects_as_the_reference_on_the_device()
    {
        // Routing alone over many tokens: the selected ids must be the reference's (inside the best 2 of 4 groups).
        using var w = new MoeArchLayer(GgmlType.Q8_0, "deepseek2", seed: 77, groupLimited: true);
        using var moe = w.Layer();
        using var layer = new OpenCLMoeExecutor(fixture.Context, moe, OpenCLFixture.Sources, OpenCLFixture.Options);
        const int tokens = 32;
        var x = TestData.Gaussian(tokens * MoeArchLayer.Hidden, 4321);
        var ids = new int[tokens * MoeArchLayer.TopK];
        var weights = new float[ids.Length];
        layer.Route(x, ids, weights);
        var (refIds, refWeights, _) = w.Route(x);
        Assert.Equal(refIds, ids);
        using var ungrouped = new MoeArchLayer(GgmlType.Q8_0, "deepseek2", seed: 77);
        Assert.NotEqual(ungrouped.Route(x).Ids, refIds); // the groups change some token's choice, so the test can tell
        for (int i = 0; i < ids.Length; i++)
        {
            Assert.True(Math.Abs(refWeights[i] - weights[i]) <= 1e-4 * Math.Max(1, Math.Abs(refWeights[i])), $"weight {i}: {weights[i]} vs {refWeights[i]}");
        }
    }
}
