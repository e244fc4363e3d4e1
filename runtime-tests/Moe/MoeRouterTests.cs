using Ferrum.Moe;

namespace Ferrum.Runtime.Tests.Moe;

/// <summary>Routing per architecture on hand-derived cases (expected values worked out from the formulas).</summary>
public sealed unsafe class MoeRouterTests
{
    private static (int[] Ids, float[] Weights) Route(MoeRouting r, float[] logits, float[]? bias = null)
    {
        var ids = new int[r.ExpertsPerToken];
        var w = new float[r.ExpertsPerToken];
        var scratch = new float[2 * r.ExpertCount];
        fixed (float* l = logits, b = bias, s = scratch, wp = w)
        fixed (int* ip = ids)
        {
            MoeRouter.Route(r, l, b, ip, wp, s);
        }

        return (ids, w);
    }

    [Fact]
    public void Qwen3_softmax_topk_renormalizes_and_breaks_ties_to_the_smaller_index()
    {
        var r = MoeRouting.ForArchitecture("qwen3moe", 4, 2);
        var (ids, w) = Route(r, [1f, 3f, 2f, 3f]);
        Assert.Equal([1, 3], ids);
        Assert.Equal(0.5f, w[0], 6);
        Assert.Equal(0.5f, w[1], 6);
    }

    [Fact]
    public void Olmoe_and_qwen2moe_keep_the_softmax_probabilities()
    {
        foreach (var arch in new[] { "olmoe", "qwen2moe" })
        {
            var r = MoeRouting.ForArchitecture(arch, 3, 2);
            var (ids, w) = Route(r, [0f, 2f, 1f]);
            double z = 1 + Math.Exp(2) + Math.Exp(1);
            Assert.Equal([1, 2], ids);
            Assert.Equal(Math.Exp(2) / z, w[0], 5);
            Assert.Equal(Math.Exp(1) / z, w[1], 5);
        }
    }

    [Fact]
    public void Mixtral_renormalizes_the_top_two()
    {
        var r = MoeRouting.ForArchitecture("llama", 8, 2);
        var (ids, w) = Route(r, [0f, 0f, 0f, 0f, Math.Log(3f) is var l3 ? (float)l3 : 0, 0f, 0f, 0.5f]);
        Assert.Equal([4, 7], ids);
        double a = 3, b = Math.Exp(0.5);
        Assert.Equal(a / (a + b), w[0], 5);
        Assert.Equal(b / (a + b), w[1], 5);
    }

    [Fact]
    public void Equal_logits_select_the_lowest_indices()
    {
        var r = MoeRouting.ForArchitecture("qwen3moe", 6, 3);
        var (ids, w) = Route(r, [2f, 2f, 2f, 2f, 2f, 2f]);
        Assert.Equal([0, 1, 2], ids);
        Assert.All(w, x => Assert.Equal(1f / 3, x, 6));
    }

    [Fact]
    public void Deepseek_sigmoid_selection_bias_norm_and_scale()
    {
        var r = MoeRouting.ForArchitecture("deepseek2", 4, 2, gatingFunction: 2, weightsNorm: true, weightsScale: 2.5f);
        // Equal logits: the selection bias alone picks experts 3 and 1; the weights come from the unbiased sigmoid.
        var (ids, w) = Route(r, [0f, 0f, 0f, 0f], [0f, 0.1f, 0f, 0.2f]);
        Assert.Equal([3, 1], ids);
        Assert.Equal(1.25f, w[0], 6);
        Assert.Equal(1.25f, w[1], 6);
    }

    [Fact]
    public void Deepseek_without_gating_key_uses_softmax_and_no_norm()
    {
        var r = MoeRouting.ForArchitecture("deepseek2", 3, 1, weightsScale: 16f);
        var (ids, w) = Route(r, [0f, 1f, 0f]);
        Assert.Equal([1], ids);
        Assert.Equal(16 * Math.E / (2 + Math.E), w[0], 4);
    }

    [Fact]
    public void Renormalization_divides_by_at_least_two_to_the_minus_14()
    {
        var r = MoeRouting.ForArchitecture("deepseek2", 4, 2, gatingFunction: 2, weightsNorm: true);
        var (_, w) = Route(r, [-20f, -20f, -20f, -20f]);
        double p = 1 / (1 + Math.Exp(20));
        Assert.Equal(p / 6.103515625e-5, w[0], 6);
    }

    [Fact]
    public void Gpt_oss_softmax_over_the_selected_logits()
    {
        var r = MoeRouting.ForArchitecture("gpt-oss", 4, 2);
        Assert.Equal(MoeActivation.SwigluOai, r.Activation);
        var (ids, w) = Route(r, [1f, 2f, 0.5f, 3f]);
        Assert.Equal([3, 1], ids);
        Assert.Equal(Math.E / (Math.E + 1), w[0], 5);
        Assert.Equal(1 / (Math.E + 1), w[1], 5);
    }

    [Fact]
    public void Group_limited_routing_keeps_only_the_best_groups()
    {
        // 4 groups of 2; group scores (sum of both): g0 = 0.9+0.8, g1 = 1.0+0, g2 = 0.7+0.7, g3 = 0+0. One group kept: g0.
        var r = new MoeRouting { ExpertCount = 8, ExpertsPerToken = 2, Gating = MoeGating.Sigmoid, ExpertGroupCount = 4, ExpertGroupsUsed = 1 };
        float Logit(double p) => (float)Math.Log(p / (1 - p));
        var (ids, _) = Route(r, [Logit(0.9), Logit(0.8), Logit(0.99), Logit(0.01), Logit(0.7), Logit(0.7), Logit(0.5), Logit(0.5)]);
        Assert.Equal([0, 1], ids);
    }

    [Fact]
    public void Nan_logit_is_a_clear_error_and_infinity_takes_all_the_weight()
    {
        var r = MoeRouting.ForArchitecture("olmoe", 3, 2);
        var ex = Assert.Throws<InvalidOperationException>(() => Route(r, [0f, float.NaN, 1f]));
        Assert.Contains("NaN", ex.Message);
        Assert.Contains("expert 1", ex.Message);
        // +∞ takes probability 1, the finite logits 0 each; the tie between them goes to the smaller index.
        var (ids, w) = Route(r, [0f, float.PositiveInfinity, 1f]);
        Assert.Equal([1, 0], ids);
        Assert.Equal(1f, w[0]);
        Assert.Equal(0f, w[1]);
    }

    [Fact]
    public void Unknown_architecture_and_bad_counts_are_rejected()
    {
        Assert.Throws<NotSupportedException>(() => MoeRouting.ForArchitecture("bert", 8, 2));
        Assert.Throws<ArgumentException>(() => MoeRouting.ForArchitecture("qwen3moe", 8, 9));
    }
}
