using Ferrum.Backends;
using Ferrum.Backends.OpenCL;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// A MoE block read from a GGUF file by <see cref="MoeLayer.Load"/> (separate and fused gate/up tensors) runs on the
/// device and matches the reference, keeps running after its layer and file are disposed, and what the backend lacks
/// is named by <see cref="IMoeBackend.Supports"/>.
/// </summary>
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
        using var moe = MoeLayer.Load(file, 1);
        Assert.Equal(fused, moe.FusedGateUp);
        IMoeBackend backend = new OpenCLBackend(fixture.Context, OpenCLFixture.Sources, OpenCLFixture.Options);
        Assert.True(backend.Supports(moe, out var reason), reason);
        using var layer = backend.Create(moe);
        const int tokens = 6;
        var x = MoeTestLayer.Activations(tokens, H, seed: 62);
        var y = new float[tokens * H];
        layer.Forward(x, y);
        var (ids, weights, margin) = w.ReferenceRoute(x, tokens, w.Routing(K, MoeGating.Softmax, true));
        Assert.True(margin > 1e-5);
        var nmse = MoeTestLayer.Nmse(w.ReferenceOut(x, tokens, ids, weights.Select(v => (float)v).ToArray(), K), y);
        Assert.True(nmse <= 1e-6, $"NMSE {nmse:E3}");

        var notMoe = Assert.Throws<GgufException>(() => MoeLayer.Load(file, 2));
        Assert.Contains("layer 2", notMoe.Message);
    }

    [Fact]
    public void An_executor_outlives_its_layer_and_its_mapped_file_and_gives_the_same_output()
    {
        // A file mapping (not an in-memory image): on a CPU device the weight buffers wrap the mapping itself, so
        // only the executor's lease keeps it mapped once the layer and the file are disposed.
        var w = new MoeTestLayer(GgmlType.Q4_K, GgmlType.Q6_K, H, F, E, seed: 63);
        var path = Path.Combine(Path.GetTempPath(), $"ferrum-opencl-lease-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, Write(w, fused: false));
        try
        {
            const int tokens = 5;
            var x = MoeTestLayer.Activations(tokens, H, seed: 64);
            var before = new float[tokens * H];
            var after = new float[tokens * H];
            var file = GgufFile.Open(path);
            var moe = MoeLayer.Load(file, 1);
            using var layer = new OpenCLMoeExecutor(fixture.Context, moe, OpenCLFixture.Sources, OpenCLFixture.Options);
            Assert.Equal(fixture.Context.Device.IsCpu, layer.WeightsInPlace);
            layer.Forward(x, before);
            moe.Dispose();
            file.Dispose();
            Assert.Throws<ObjectDisposedException>(() => file.AcquireLease());

            // Another mapping of the same size, in case a released range were reused.
            using (var other = GgufFile.Open(path))
            {
                layer.Forward(x, after);
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            var third = new float[tokens * H];
            layer.Forward(x, third);
            Assert.Equal(before, after);
            Assert.Equal(before, third);
            var (ids, weights, margin) = w.ReferenceRoute(x, tokens, w.Routing(K, MoeGating.Softmax, true));
            Assert.True(margin > 1e-5);
            var nmse = MoeTestLayer.Nmse(w.ReferenceOut(x, tokens, ids, weights.Select(v => (float)v).ToArray(), K), after);
            Assert.True(nmse <= 1e-6, $"NMSE {nmse:E3}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Supports_qwen2moe_and_gpt_oss_layers_read_from_gguf_and_names_what_a_shared_expert_lacks()
    {
        IMoeBackend backend = new OpenCLBackend(fixture.Context, OpenCLFixture.Sources, OpenCLFixture.Options);
        Assert.Equal("opencl", backend.Name);
        foreach (var (image, name) in new[] { (ArchitectureGguf.Qwen2Moe(), "qwen2moe.gguf"), (ArchitectureGguf.GptOss(), "gpt-oss.gguf"), (ArchitectureGguf.Qwen3Moe(), "qwen3moe.gguf") })
        {
            using var file = GgufFile.Open(image, name);
            using var moe = MoeLayer.Load(file, 0);
            Assert.True(backend.Supports(moe, out var why), $"{name}: {why}");
            Assert.Null(why);
        }

        // A shared expert whose gate input is quantized: the routing kernel reads it as f32.
        using var w = new Moe.MoeTestLayer(GgmlType.Q8_0, "qwen2moe", seed: 3);
        var good = w.Layer();
        var bad = new MoeLayer
        {
            Architecture = good.Architecture,
            Routing = good.Routing,
            Router = good.Router,
            Gate = good.Gate,
            Up = good.Up,
            Down = good.Down,
            SharedGate = good.SharedGate,
            SharedUp = good.SharedUp,
            SharedDown = good.SharedDown,
            SharedGateInput = good.SharedGate,
        };
        Assert.False(OpenCLBackend.CanRun(bad, OpenCLFixture.Sources, out var reason));
        Assert.Equal("shared expert gate input 'shg' is q8_0; the OpenCL routing kernel reads f32", reason);
    }

    [Fact]
    public void Supports_runs_group_limited_routing_and_names_sqrt_softplus_and_a_format_without_a_program()
    {
        var w = new MoeTestLayer(GgmlType.Q8_0, GgmlType.Q8_0, H, F, E, seed: 65);
        var grouped = w.Layer(w.Routing(2, MoeGating.Sigmoid, true) with { ExpertGroupCount = 4, ExpertGroupsUsed = 2 });
        Assert.True(OpenCLBackend.CanRun(grouped, OpenCLFixture.Sources, out var why), why);

        var softplus = w.Layer(w.Routing(2, MoeGating.SqrtSoftplus, true));
        Assert.False(OpenCLBackend.CanRun(softplus, OpenCLFixture.Sources, out why));
        Assert.Equal("the sqrt-softplus gating function is not in the OpenCL routing kernel", why);

        Assert.False(OpenCLBackend.CanRun(w.Layer(w.Routing(2, MoeGating.Softmax, true)), (_, _, _) => null, out why));
        Assert.Contains("no generated OpenCL program 'ferrum_moe_q8_0' for q8_0 gate weights", why);
        Assert.Contains("no generated OpenCL program 'ferrum_moe_q8_0' for q8_0 down weights", why);
        Assert.Contains("kernels.yaml", why);
    }

    [Fact]
    public void The_generator_emits_a_program_for_every_format_the_runtime_supports()
    {
        // runtime-tests/kernels.yaml lists all 16 formats; the generator plans kernels only for formats its OpenCL
        // printer supports, so a generic program for each proves the two lists agree.
        foreach (var t in OpenCLBackend.SupportedFormats)
        {
            var source = OpenCLFixture.Sources(t, 0, 0);
            Assert.NotNull(source);
            Assert.Contains("ferrum_moe_gate_up_vec_" + GgmlTypeInfo.Get(t).Name, source);
        }

        Assert.Equal(16, OpenCLBackend.SupportedFormats.Count);
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
