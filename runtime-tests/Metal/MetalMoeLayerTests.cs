using Ferrum.Backends;
using Ferrum.Backends.Metal;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.OpenCL;

namespace Ferrum.Runtime.Tests.Metal;

/// <summary>
/// What the Metal executor takes from a <see cref="MoeLayer"/> loaded from GGUF (checked on every OS): zero-copy
/// only over a file mapping, the argument block's strides and routing, and the capability check that names what a
/// layer needs that the Metal kernels lack.
/// </summary>
public sealed unsafe class MetalMoeLayerTests
{
    private const int H = 256;
    private const int F = 64;
    private const int E = 4;

    // Any text: the capability check only asks whether a program exists (the runtime tests generate no Metal ones).
    private static readonly MoeProgramSources AnyProgram = (_, _, _) => "// program";

    private static GgufWriter Qwen3Moe(bool fused = false)
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", "qwen3moe");
        w.AddMetadata("qwen3moe.expert_count", (uint)E);
        w.AddMetadata("qwen3moe.expert_used_count", 2u);
        w.AddMetadata("qwen3moe.embedding_length", (uint)H);
        w.AddMetadata("qwen3moe.block_count", 1u);
        w.AddMetadata("qwen3moe.expert_feed_forward_length", (uint)F);
        w.AddMetadata("qwen3moe.feed_forward_length", 2u * F);
        w.AddMetadata("qwen3moe.expert_gating_func", 1u);
        var q8Row = GgmlTypeInfo.Get(GgmlType.Q8_0).RowBytes(H);
        w.AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [H, E], new byte[H * E * 4]);
        if (fused)
        {
            w.AddTensor("blk.0.ffn_gate_up_exps.weight", GgmlType.Q8_0, [H, 2 * F, E], new byte[q8Row * 2 * F * E]);
        }
        else
        {
            w.AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.Q8_0, [H, F, E], new byte[q8Row * F * E]);
            w.AddTensor("blk.0.ffn_up_exps.weight", GgmlType.Q8_0, [H, F, E], new byte[q8Row * F * E]);
        }

        w.AddTensor("blk.0.ffn_down_exps.weight", GgmlType.Q4_0, [F, H, E], new byte[GgmlTypeInfo.Get(GgmlType.Q4_0).RowBytes(F) * H * E]);
        return w;
    }

    [Fact]
    public void A_mapped_file_is_wrapped_in_place_with_the_architectures_routing()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ferrum-metal-{Guid.NewGuid():N}.gguf");
        Qwen3Moe().WriteTo(path);
        try
        {
            using var file = GgufFile.Open(path);
            using var layer = MoeLayer.Load(file, 0);
            Assert.True(MetalMoeExecutor.IsPageMapped(layer));
            Assert.Equal((H, F, E), (layer.Hidden, layer.ExpertFfn, layer.Experts));
            Assert.True(file.GetTensorPointer(file.GetTensor("blk.0.ffn_up_exps.weight")) == layer.Up.ExpertPointer(0));
            Assert.Equal(GgmlType.Q4_0, layer.Down.Format);
            var args = MetalMoePlan.Args(layer, 3);
            Assert.Equal((ulong)(GgmlTypeInfo.Get(GgmlType.Q4_0).RowBytes(F) * H), args.StrideDown);
            Assert.Equal((H, F, E, 2, 3, 3), (args.H, args.F, args.NExperts, args.Topk, args.NTokens, args.MaxPerExpert));
            Assert.Equal((1, 1, 0, 0), (args.Gating, args.Norm, args.HasRouterBias, args.HasSelectionBias)); // qwen3moe: softmax, norm hard-coded
            Assert.Equal(MoeActivation.SiluGlu, layer.Routing.Activation);
            Assert.True(MetalBackend.CanRun(layer, AnyProgram, out var why), why);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_fused_gate_up_tensor_becomes_two_interleaved_stacks_and_an_image_is_copied()
    {
        using var file = GgufFile.Open(Qwen3Moe(fused: true).ToArray(), "fused.gguf");
        using var layer = MoeLayer.Load(file, 0);
        Assert.False(MetalMoeExecutor.IsPageMapped(layer)); // an in-memory image is copied into Metal buffers, not wrapped
        var row = GgmlTypeInfo.Get(GgmlType.Q8_0).RowBytes(H);
        var args = MetalMoePlan.Args(layer, 1);
        Assert.Equal((ulong)(2 * F * row), args.StrideGateUp);
        Assert.Equal(layer.Gate.ExpertStride, layer.Up.ExpertStride);
        Assert.True(layer.Gate.ExpertPointer(0) + (F * row) == layer.Up.ExpertPointer(0));
        Assert.True(MetalBackend.CanRun(layer, AnyProgram, out var why), why);
    }

    [Fact]
    public void Supports_the_shared_expert_of_a_qwen2moe_layer_and_the_biases_of_a_gpt_oss_layer()
    {
        using var qwen2File = GgufFile.Open(ArchitectureGguf.Qwen2Moe(), "qwen2moe.gguf");
        using var qwen2 = MoeLayer.Load(qwen2File, 0);
        Assert.True(MetalBackend.CanRun(qwen2, AnyProgram, out var why), why);

        // The router bias is in the Metal routing kernel, the expert biases in the expert kernels.
        using var gptFile = GgufFile.Open(ArchitectureGguf.GptOss(), "gpt-oss.gguf");
        using var gpt = MoeLayer.Load(gptFile, 0);
        Assert.True(MetalBackend.CanRun(gpt, AnyProgram, out why), why);
    }

    [Fact]
    public void Supports_names_a_format_without_a_generated_metal_source()
    {
        // The runtime tests' assembly declares no Metal target in kernels.yaml, so the catalog has no Metal source.
        using var file = GgufFile.Open(Qwen3Moe().ToArray(), "q8.gguf");
        using var layer = MoeLayer.Load(file, 0);
        Assert.False(MetalBackend.CanRun(layer, null, out var why));
        Assert.Contains("no Metal kernel source for q8_0 gate weights ('blk.0.ffn_gate_exps.weight')", why);
        Assert.Contains("no Metal kernel source for q4_0 down weights", why);
        Assert.Contains("'metal' under 'targets:' in kernels.yaml", why);
    }

    [Fact]
    public void Supports_runs_group_limited_routing_and_names_sqrt_softplus_and_shapes_off_the_tiles()
    {
        var w = new MoeTestLayer(GgmlType.Q8_0, GgmlType.Q8_0, 256, 64, 8, seed: 5);
        var grouped = w.Layer(w.Routing(2, MoeGating.Sigmoid, true) with { ExpertGroupCount = 4, ExpertGroupsUsed = 2 });
        Assert.True(MetalBackend.CanRun(grouped, AnyProgram, out var why), why);
        Assert.False(MetalBackend.CanRun(w.Layer(w.Routing(2, MoeGating.SqrtSoftplus, true)), AnyProgram, out why));
        Assert.Equal("the sqrt-softplus gating function is not in the Metal routing kernel", why);
        Assert.True(MetalBackend.CanRun(w.Layer(w.Routing(2, MoeGating.Sigmoid, true), selectionBias: true), AnyProgram, out why), why);

        // 48 expert rows: not a multiple of the 32-row tiles.
        var odd = new MoeTestLayer(GgmlType.F16, GgmlType.F16, 256, 48, 8, seed: 6);
        Assert.False(MetalBackend.CanRun(odd.Layer(odd.Routing(2, MoeGating.Softmax, true)), AnyProgram, out why));
        Assert.Contains("gate weights 'blk.0.ffn_gate_exps.weight': the Metal kernels need row lengths that are multiples of 32 and row counts that are multiples of 32 (got [256, 48])", why);
        Assert.Contains("down weights 'blk.0.ffn_down_exps.weight': the Metal kernels need row lengths that are multiples of 32 and row counts that are multiples of 32 (got [48, 256])", why);
    }

    [Fact]
    public void Weights_that_do_not_fit_are_refused_naming_the_tensor()
    {
        var bytes = WeightBytes.FromArray(new byte[1 << 17]);
        ExpertStack Stack(GgmlType type, string name, int rowLength, int rows, int experts) =>
            ExpertStack.Create(type, bytes, name, 0, experts, rows, rowLength, GgmlTypeInfo.Get(type).RowBytes(rowLength), GgmlTypeInfo.Get(type).RowBytes(rowLength) * rows);
        var routing = new MoeRouting { ExpertCount = 4, ExpertsPerToken = 2 };
        var router = Stack(GgmlType.F32, "blk.0.ffn_gate_inp.weight", 64, 4, 1);
        var gate = Stack(GgmlType.F32, "blk.0.ffn_gate_exps.weight", 64, 32, 4);
        var down = Stack(GgmlType.F32, "blk.0.ffn_down_exps.weight", 32, 64, 4);
        using var ok = new MoeLayer { Routing = routing, Router = router, Gate = gate, Up = gate, Down = down };
        ok.Validate();
        Assert.True(MetalBackend.CanRun(ok, AnyProgram, out var why), why);

        // The executor validates the layer before it compiles anything; the shape error names the tensor.
        var bad = Stack(GgmlType.F32, "blk.0.ffn_up_exps.weight", 64, 32, 3);
        using var badUp = new MoeLayer { Routing = routing, Router = router, Gate = gate, Up = bad, Down = down };
        var ex = Assert.Throws<ArgumentException>(badUp.Validate);
        Assert.Contains("blk.0.ffn_up_exps.weight", ex.Message);

        var q8Router = Stack(GgmlType.Q8_0, "blk.0.ffn_gate_inp.weight", 64, 4, 1);
        using var q8 = new MoeLayer { Routing = routing, Router = q8Router, Gate = gate, Up = gate, Down = down };
        Assert.False(MetalBackend.CanRun(q8, AnyProgram, out why));
        Assert.Equal("router weights 'blk.0.ffn_gate_inp.weight' are q8_0; the Metal routing kernel reads f32", why);

        var odd = Assert.Throws<ArgumentException>(() => Stack(GgmlType.Q4_K, "odd", 100, 4, 1));
        Assert.Contains("block size 256", odd.Message);
    }
}
