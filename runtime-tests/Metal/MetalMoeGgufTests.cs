using Ferrum.Backends.Metal;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Metal;

/// <summary>The Metal executor's inputs from a GGUF block: tensor views in place, routing per architecture, refusals.</summary>
public sealed unsafe class MetalMoeGgufTests
{
    private const int H = 256;
    private const int F = 64;
    private const int E = 4;

    private static GgufWriter Qwen3Moe(bool fused = false, bool sharedExpert = false)
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
        if (sharedExpert)
        {
            w.AddTensor("blk.0.ffn_gate_shexp.weight", GgmlType.F32, [H, F], new byte[H * F * 4]);
        }

        return w;
    }

    [Fact]
    public void A_mapped_file_gives_zero_copy_views_of_its_tensors_and_the_architectures_routing()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ferrum-metal-{Guid.NewGuid():N}.gguf");
        Qwen3Moe().WriteTo(path);
        try
        {
            using var file = GgufFile.Open(path);
            var (w, r) = MetalMoeGguf.Load(file, 0);
            Assert.True(w.PageMapped);
            Assert.Equal((H, F, E), (w.Hidden, w.ExpertFfn, w.Experts));
            Assert.True(file.GetTensorPointer(file.GetTensor("blk.0.ffn_up_exps.weight")) == w.Up.Data);
            Assert.Equal(GgmlType.Q4_0, w.Down.Type);
            Assert.Equal(GgmlTypeInfo.Get(GgmlType.Q4_0).RowBytes(F) * H, w.Down.ExpertStride);
            Assert.Equal((2, 1, true), (r.ExpertsPerToken, r.Gating, r.NormalizeWeights)); // qwen3moe: softmax, norm hard-coded
            Assert.False(r.OaiActivation);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_fused_gate_up_tensor_becomes_two_interleaved_stacks()
    {
        using var file = GgufFile.Open(Qwen3Moe(fused: true).ToArray(), "fused.gguf");
        var (w, _) = MetalMoeGguf.Load(file, 0);
        Assert.False(w.PageMapped); // an in-memory image is copied into Metal buffers, not wrapped
        var row = GgmlTypeInfo.Get(GgmlType.Q8_0).RowBytes(H);
        Assert.Equal(2 * F * row, w.Gate.ExpertStride);
        Assert.Equal(w.Gate.ExpertStride, w.Up.ExpertStride);
        Assert.True(w.Gate.Data + (F * row) == w.Up.Data);
    }

    [Fact]
    public void What_the_metal_kernels_do_not_do_is_refused_naming_the_tensor()
    {
        using var shared = GgufFile.Open(Qwen3Moe(sharedExpert: true).ToArray(), "shared.gguf");
        var ex = Assert.Throws<NotSupportedException>(() => MetalMoeGguf.Load(shared, 0));
        Assert.Contains("blk.0.ffn_gate_shexp.weight", ex.Message);
        using var ok = GgufFile.Open(Qwen3Moe().ToArray(), "ok.gguf");
        Assert.Throws<ArgumentOutOfRangeException>(() => MetalMoeGguf.Load(ok, 1));
    }
}
