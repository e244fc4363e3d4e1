using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Moe;

/// <summary>The checks generated LoadLayer methods use name the model, file, layer, tensor, expected and actual.</summary>
public class LayerChecksTests
{
    [Fact]
    public void MatchingShapeAndFormatPass()
    {
        LayerChecks.Shape("m", "f.gguf", 3, "blk.3.ffn_down_exps.weight", [768L, 2048L, 128L], 768, 2048, 128);
        LayerChecks.Format("m", "f.gguf", 3, "down", "blk.3.ffn_down_exps.weight", GgmlType.Q6_K, [GgmlType.Q4_K, GgmlType.Q6_K]);
    }

    [Fact]
    public void ShapeMismatchNamesEverything()
    {
        var e = Assert.Throws<ModelMismatchException>(() =>
            LayerChecks.Shape("qwen3-30b-a3b", "/m/q.gguf", 3, "blk.3.ffn_gate_exps.weight", [2048L, 768L, 64L], 2048, 768, 128));
        Assert.Equal("model 'qwen3-30b-a3b', layer 3 of /m/q.gguf: tensor 'blk.3.ffn_gate_exps.weight' shape: expected [2048, 768, 128], found [2048, 768, 64]", e.Message);
        Assert.Equal(3, e.Layer);
        Assert.Throws<ModelMismatchException>(() => LayerChecks.Shape("m", "f", 0, "t", [2048L, 768L], 2048, 768, 128));
    }

    [Fact]
    public void UndeclaredFormatNamesTheDeclaredOnes()
    {
        var e = Assert.Throws<ModelMismatchException>(() =>
            LayerChecks.Format("qwen3-30b-a3b", "q.gguf", 7, "down", "blk.7.ffn_down_exps.weight", GgmlType.Q5_K, [GgmlType.Q4_K, GgmlType.Q6_K]));
        Assert.Equal("model 'qwen3-30b-a3b', layer 7 of q.gguf: tensor 'blk.7.ffn_down_exps.weight' format (down): expected one of [q4_K, q6_K] as declared in kernels.yaml, found q5_K", e.Message);
    }
}
