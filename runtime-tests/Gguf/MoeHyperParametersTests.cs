using Ferrum.Moe;
using Ferrum.Gguf;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>The MoE view reads each architecture's keys the way llama.cpp does and applies its defaults.</summary>
public class MoeHyperParametersTests
{
    private static MoeHyperParameters Read(string arch, Action<GgufWriter, string> keys)
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", arch);
        keys(w, arch + ".");
        using var file = GgufFile.Open(w.ToArray(), $"{arch}.gguf");
        return file.GetMoeHyperParameters();
    }

    private static void Common(GgufWriter w, string p, uint experts, uint used, uint embd = 2048, uint blocks = 48)
    {
        w.AddMetadata(p + "expert_count", experts);
        w.AddMetadata(p + "expert_used_count", used);
        w.AddMetadata(p + "embedding_length", embd);
        w.AddMetadata(p + "block_count", blocks);
    }

    [Fact]
    public void Qwen3MoeSoftmaxWithHardCodedNorm()
    {
        var p = Read("qwen3moe", (w, k) =>
        {
            Common(w, k, 128, 8);
            w.AddMetadata(k + "expert_feed_forward_length", 768u);
            w.AddMetadata(k + "feed_forward_length", 6144u);
            w.AddMetadata(k + "expert_weights_scale", 2.5f); // llama.cpp's qwen3moe never reads it
        });
        Assert.Equal(("qwen3moe", 128, 8, 768, 2048, 48, 6144), (p.Architecture, p.ExpertCount, p.ExpertUsedCount, p.ExpertFeedForwardLength, p.EmbeddingLength, p.BlockCount, p.FeedForwardLength));
        Assert.Equal(MoeGating.Softmax, p.GatingFunction);
        Assert.True(p.ExpertWeightsNorm);
        Assert.Equal(0f, p.ExpertWeightsScale);
        Assert.Equal((0, 0, 0), (p.SharedExpertCount, p.SharedExpertFeedForwardLength, p.LeadingDenseBlockCount));
        Assert.True(p.IsMoeLayer(0));
    }

    [Fact]
    public void Qwen3MoeWithoutExpertLengthFallsBackToFfnOverTopK()
    {
        var p = Read("qwen3moe", (w, k) =>
        {
            Common(w, k, 128, 8);
            w.AddMetadata(k + "feed_forward_length", 6144u);
        });
        Assert.Equal(6144 / 8, p.ExpertFeedForwardLength);
    }

    [Fact]
    public void Qwen2MoeHasASigmoidGatedSharedExpertAndNoNorm()
    {
        var p = Read("qwen2moe", (w, k) =>
        {
            Common(w, k, 60, 4, 2048, 24);
            w.AddMetadata(k + "expert_feed_forward_length", 1408u);
            w.AddMetadata(k + "expert_shared_feed_forward_length", 5632u);
            w.AddMetadata(k + "feed_forward_length", 5632u);
        });
        Assert.Equal((60, 4, 1408), (p.ExpertCount, p.ExpertUsedCount, p.ExpertFeedForwardLength));
        Assert.Equal((1, 5632, true), (p.SharedExpertCount, p.SharedExpertFeedForwardLength, p.SharedExpertGated));
        Assert.Equal(MoeGating.Softmax, p.GatingFunction);
        Assert.False(p.ExpertWeightsNorm);

        var noShexpKey = Read("qwen2moe", (w, k) =>
        {
            Common(w, k, 60, 4, 2048, 24);
            w.AddMetadata(k + "feed_forward_length", 5632u);
        });
        Assert.Equal(5632, noShexpKey.SharedExpertFeedForwardLength);
        Assert.Equal(5632 / 4, noShexpKey.ExpertFeedForwardLength);
    }

    [Fact]
    public void OlmoeSoftmaxWithoutNormUsingFeedForwardLength()
    {
        var p = Read("olmoe", (w, k) =>
        {
            Common(w, k, 64, 8, 2048, 16);
            w.AddMetadata(k + "feed_forward_length", 1024u);
        });
        Assert.Equal(1024, p.ExpertFeedForwardLength);
        Assert.Equal(MoeGating.Softmax, p.GatingFunction);
        Assert.False(p.ExpertWeightsNorm);
    }

    [Fact]
    public void MixtralUsesFeedForwardLengthAndNormalizes()
    {
        var p = Read("llama", (w, k) =>
        {
            Common(w, k, 8, 2, 4096, 32);
            w.AddMetadata(k + "feed_forward_length", Enumerable.Repeat(14336, 32).ToArray()); // stored per layer (i32)
        });
        Assert.Equal((8, 2, 14336, 4096), (p.ExpertCount, p.ExpertUsedCount, p.ExpertFeedForwardLength, p.EmbeddingLength));
        Assert.Equal(MoeGating.Softmax, p.GatingFunction);
        Assert.True(p.ExpertWeightsNorm);
    }

    [Fact]
    public void DeepSeek2ReadsGatingNormScaleSharedAndLeadingDense()
    {
        var p = Read("deepseek2", (w, k) =>
        {
            Common(w, k, 256, 8, 7168, 61);
            w.AddMetadata(k + "expert_feed_forward_length", 2048u);
            w.AddMetadata(k + "expert_shared_count", 1u);
            w.AddMetadata(k + "expert_weights_scale", 2.5f);
            w.AddMetadata(k + "expert_weights_norm", true);
            w.AddMetadata(k + "expert_gating_func", 2u);
            w.AddMetadata(k + "leading_dense_block_count", 3u);
            w.AddMetadata(k + "expert_group_count", 8u);
            w.AddMetadata(k + "expert_group_used_count", 4u);
            w.AddMetadata(k + "feed_forward_length", 18432u);
        });
        Assert.Equal(MoeGating.Sigmoid, p.GatingFunction);
        Assert.True(p.ExpertWeightsNorm);
        Assert.Equal(2.5f, p.ExpertWeightsScale);
        Assert.Equal((1, 2048), (p.SharedExpertCount, p.SharedExpertFeedForwardLength));
        Assert.Equal(3, p.LeadingDenseBlockCount);
        Assert.Equal((8, 4), (p.ExpertGroupCount, p.ExpertGroupUsedCount));
        Assert.False(p.IsMoeLayer(2));
        Assert.True(p.IsMoeLayer(3));
        Assert.Equal(18432, p.FeedForwardLength);
    }

    [Fact]
    public void DeepSeek2DefaultsForV2Files()
    {
        var p = Read("deepseek2", (w, k) =>
        {
            Common(w, k, 64, 6, 2048, 27);
            w.AddMetadata(k + "expert_feed_forward_length", 1408u);
            w.AddMetadata(k + "expert_shared_count", 2u);
        });
        Assert.Equal(MoeGating.Softmax, p.GatingFunction); // absent gating func → softmax
        Assert.False(p.ExpertWeightsNorm);
        Assert.Equal(0f, p.ExpertWeightsScale);
        Assert.Equal(0, p.LeadingDenseBlockCount);
        Assert.Equal((2, 2816), (p.SharedExpertCount, p.SharedExpertFeedForwardLength));

        var e = Assert.Throws<GgufException>(() => Read("deepseek2", (w, k) => Common(w, k, 64, 6)));
        Assert.Contains("deepseek2.expert_feed_forward_length is missing", e.Message);
    }

    [Fact]
    public void GptOssSoftmaxWeightWithoutNorm()
    {
        var p = Read("gpt-oss", (w, k) =>
        {
            Common(w, k, 32, 4, 2880, 24);
            w.AddMetadata(k + "expert_feed_forward_length", 2880u);
        });
        Assert.Equal((32, 4, 2880), (p.ExpertCount, p.ExpertUsedCount, p.ExpertFeedForwardLength));
        Assert.Equal(MoeGating.SoftmaxOverSelected, p.GatingFunction);
        Assert.False(p.ExpertWeightsNorm);
    }

    [Fact]
    public void NonMoeUnsupportedAndBrokenFilesGiveClearErrors()
    {
        var dense = Assert.Throws<GgufException>(() => Read("llama", (w, k) => w.AddMetadata(k + "block_count", 32u)));
        Assert.Equal("llama.gguf: not a Mixture-of-Experts model (llama.expert_count is missing)", dense.Message);

        var unsupported = Assert.Throws<GgufException>(() => Read("dbrx", (w, k) => Common(w, k, 16, 4)));
        Assert.Contains("MoE architecture 'dbrx' is not supported", unsupported.Message);

        using var empty = GgufFile.Open(new GgufWriter().ToArray(), "x.gguf");
        var noArch = Assert.Throws<GgufException>(() => empty.GetMoeHyperParameters());
        Assert.Contains("general.architecture is missing", noArch.Message);

        var topK = Assert.Throws<GgufException>(() => Read("qwen3moe", (w, k) => Common(w, k, 4, 8)));
        Assert.Contains("expert_used_count 8 must be in [1, qwen3moe.expert_count = 4]", topK.Message);

        var wrongType = Assert.Throws<GgufException>(() => Read("olmoe", (w, k) =>
        {
            w.AddMetadata(k + "expert_count", "sixty-four");
        }));
        Assert.Contains("olmoe.expert_count", wrongType.Message);
    }
}
