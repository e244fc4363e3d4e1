using Ferrum.Backends.OpenCL;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>A MoE layer read from a GGUF file (separate and fused gate/up tensors) runs on the device and matches the reference.</summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLGgufLayerTests(OpenCLFixture fixture)
{
    private const int H = OpenCLFixture.Hidden;
    private const int F = OpenCLFixture.Ffn;
    private const int E = OpenCLFixture.Experts;
    private const int K = OpenCLFixture.TopK;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_qwen3moe_layer_from_gguf_matches_the_reference(bool fused)
    {
        var w = new MoeTestLayer(GgmlType.Q4_K, GgmlType.Q6_K, H, F, E, seed: 61, fusedGateUp: fused);
        var gguf = Write(w, fused);
        using var file = GgufFile.Open(gguf, "qwen3moe-test.gguf");
        using var layer = OpenCLMoeLayer.FromGguf(fixture.Context, OpenCLFixture.Sources, file, 1, OpenCLFixture.Options);
        const int tokens = 6;
        var x = MoeTestLayer.Activations(tokens, H, seed: 62);
        var y = new float[tokens * H];
        layer.Forward(x, tokens, y);
        var routing = new OpenCLRouting(OpenCLGating.Softmax, true);
        var (ids, weights, margin) = w.ReferenceRoute(x, tokens, K, routing);
        Assert.True(margin > 1e-5);
        var nmse = MoeTestLayer.Nmse(w.ReferenceOut(x, tokens, ids, weights.Select(v => (float)v).ToArray(), K), y);
        Assert.True(nmse <= 1e-6, $"NMSE {nmse:E3}");

        var notMoe = Assert.Throws<ArgumentOutOfRangeException>(() => OpenCLMoeLayer.FromGguf(fixture.Context, OpenCLFixture.Sources, file, 2, OpenCLFixture.Options));
        Assert.Contains("layer 2 is not a MoE layer", notMoe.Message);
    }

    [Fact]
    public void The_generator_emits_a_program_for_every_format_the_runtime_supports()
    {
        // runtime-tests/kernels.yaml lists all 16 formats; the generator plans kernels only for formats its OpenCL
        // printer supports, so a generic program for each proves the two lists agree.
        foreach (var t in OpenCLMoeLayer.SupportedFormats)
        {
            var source = OpenCLFixture.Sources(t, 0, 0);
            Assert.NotNull(source);
            Assert.Contains("ferrum_moe_gate_up_vec_" + GgmlTypeInfo.Get(t).Name, source);
        }

        Assert.Equal(16, OpenCLMoeLayer.SupportedFormats.Count);
    }

    internal static byte[] Write(MoeTestLayer w, bool fused)
    {
        var g = new GgufWriter();
        g.AddMetadata("general.architecture", "qwen3moe");
        g.AddMetadata("qwen3moe.block_count", 2u);
        g.AddMetadata("qwen3moe.embedding_length", (uint)H);
        g.AddMetadata("qwen3moe.feed_forward_length", (uint)(F * K));
        g.AddMetadata("qwen3moe.expert_feed_forward_length", (uint)F);
        g.AddMetadata("qwen3moe.expert_count", (uint)E);
        g.AddMetadata("qwen3moe.expert_used_count", (uint)K);
        var router = System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Router.AsSpan()).ToArray();
        g.AddTensor("blk.1.ffn_gate_inp.weight", GgmlType.F32, [H, E], router);
        if (fused)
        {
            g.AddTensor("blk.1.ffn_gate_up_exps.weight", w.GateUpType, [H, 2 * F, E], w.GateUp);
        }
        else
        {
            g.AddTensor("blk.1.ffn_gate_exps.weight", w.GateUpType, [H, F, E], w.Gate);
            g.AddTensor("blk.1.ffn_up_exps.weight", w.GateUpType, [H, F, E], w.Up);
        }

        g.AddTensor("blk.1.ffn_down_exps.weight", w.DownType, [F, H, E], w.Down);
        return g.ToArray();
    }
}
