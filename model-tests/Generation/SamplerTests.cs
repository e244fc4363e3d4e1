using Ferrum.Inference;

namespace Ferrum.Model.Tests.Generation;

/// <summary>
/// The sampler against hand-computed expectations: which tokens top-k / top-p / min-p keep (llama.cpp semantics) and
/// their probabilities after temperature, greedy ties, seeds, the draw's distribution, argument validation.
/// </summary>
public class SamplerTests
{
    // Probabilities 0.4, 0.3, 0.2, 0.1 at temperature 1, scattered over ids so that order is not id order.
    // id 0: 0.2, id 1: 0.4, id 2: 0.1, id 3: 0.3.
    private static readonly float[] Quarter = [MathF.Log(0.2f), MathF.Log(0.4f), MathF.Log(0.1f), MathF.Log(0.3f)];

    private static SamplingOptions Plain(float temperature = 1f) => new() { Temperature = temperature, TopK = 0, TopP = 1f, MinP = 0f, Seed = 1 };

    private static (int[] Ids, float[] Probs) Kept(SamplingOptions options, float[] logits)
    {
        var sampler = new Sampler(logits.Length, options);
        var ids = new int[logits.Length];
        var probs = new float[logits.Length];
        int n = sampler.GetCandidates(logits, ids, probs);
        return (ids[..n], probs[..n]);
    }

    private static void AssertKept((int[] Ids, float[] Probs) kept, int[] ids, double[] probs)
    {
        Assert.Equal(ids, kept.Ids);
        for (int i = 0; i < probs.Length; i++)
            Assert.Equal(probs[i], (double)kept.Probs[i], 1e-5);
    }

    [Fact]
    public void Top_k_keeps_the_k_highest_logits()
    {
        // logits 1,3,2,5,4 with k=2: ids 3 (5) and 4 (4); p = e^5/(e^5+e^4) = 1/(1+e^-1) = 0.7310586, 0.2689414.
        var kept = Kept(Plain() with { TopK = 2 }, [1f, 3f, 2f, 5f, 4f]);
        AssertKept(kept, [3, 4], [0.7310586, 0.2689414]);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_prefix_reaching_p()
    {
        // Sorted 0.4 (id1), 0.3 (id3), 0.2 (id0), 0.1 (id2). p=0.65: 0.4 < 0.65, 0.7 >= 0.65 → two tokens, 4/7 and 3/7.
        AssertKept(Kept(Plain() with { TopP = 0.65f }, Quarter), [1, 3], [4.0 / 7, 3.0 / 7]);
        // p=0.75: 0.4, 0.7, 0.9 → three tokens, 0.4/0.9, 0.3/0.9, 0.2/0.9.
        AssertKept(Kept(Plain() with { TopP = 0.75f }, Quarter), [1, 3, 0], [4.0 / 9, 3.0 / 9, 2.0 / 9]);
        // p=0 still keeps one token (min_keep = 1).
        AssertKept(Kept(Plain() with { TopP = 0f }, Quarter), [1], [1.0]);
    }

    [Fact]
    public void Min_p_is_relative_to_the_largest_probability()
    {
        // min_p 0.6: threshold 0.6*0.4 = 0.24 → 0.4 and 0.3 stay: 4/7, 3/7.
        AssertKept(Kept(Plain() with { MinP = 0.6f }, Quarter), [1, 3], [4.0 / 7, 3.0 / 7]);
        // min_p 0.2: threshold 0.08 → all four stay.
        var all = Kept(Plain() with { MinP = 0.2f }, Quarter);
        Assert.Equal(4, all.Ids.Length);
        Assert.Equal(new[] { 0, 1, 2, 3 }, all.Ids.Order().ToArray());
    }

    [Fact]
    public void Temperature_scales_after_the_filters()
    {
        // T=2 alone: p ∝ sqrt(p): sqrt(.4)=.6324555, sqrt(.3)=.5477226, sqrt(.2)=.4472136, sqrt(.1)=.3162278, sum 1.9436195.
        var t2 = Kept(Plain(2f), Quarter);
        var byId = t2.Ids.Zip(t2.Probs).ToDictionary(x => x.First, x => (double)x.Second);
        Assert.Equal(0.6324555 / 1.9436195, byId[1], 1e-5);
        Assert.Equal(0.5477226 / 1.9436195, byId[3], 1e-5);
        Assert.Equal(0.4472136 / 1.9436195, byId[0], 1e-5);
        Assert.Equal(0.3162278 / 1.9436195, byId[2], 1e-5);

        // top_p 0.65 sees temperature-1 probabilities (two tokens); at T=2 they would be .325, .607 → three tokens.
        // Then T=2 reweights the two kept: sqrt(.4)/(sqrt(.4)+sqrt(.3)) = 0.5358983.
        AssertKept(Kept(Plain(2f) with { TopP = 0.65f }, Quarter), [1, 3], [0.5358983, 0.4641017]);
    }

    [Fact]
    public void Top_k_runs_before_top_p()
    {
        // k=3 renormalizes to 4/9, 3/9, 2/9: cumulative .444, .778 ≥ 0.75 → two tokens.
        // (top_p 0.75 on the full distribution would keep three: .4, .7, .9.)
        AssertKept(Kept(Plain() with { TopK = 3, TopP = 0.75f }, Quarter), [1, 3], [4.0 / 7, 3.0 / 7]);
    }

    [Fact]
    public void Greedy_takes_the_highest_logit_and_ties_go_to_the_lowest_id()
    {
        var sampler = new Sampler(5, SamplingOptions.Greedy);
        Assert.Equal(1, sampler.Sample([1f, 5f, 5f, 2f, 5f]));
        Assert.Equal(4, sampler.Sample([1f, 5f, 5f, 2f, 6f]));
        Assert.Equal(2, new Sampler(3, new SamplingOptions { Temperature = -1f }).Sample([0f, float.NegativeInfinity, 3f]));
    }

    [Fact]
    public void Masked_tokens_are_never_drawn()
    {
        var sampler = new Sampler(4, Plain() with { Seed = 7 });
        float[] logits = [float.NegativeInfinity, 0f, float.NegativeInfinity, 0f];
        for (int i = 0; i < 200; i++)
            Assert.Contains(sampler.Sample(logits), new[] { 1, 3 });
    }

    [Fact]
    public void Same_seed_same_tokens_different_seed_different_tokens()
    {
        float[] logits = Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i) * 2f).ToArray();
        int[] Run(long seed)
        {
            var s = new Sampler(logits.Length, new SamplingOptions { Temperature = 1.5f, TopK = 0, TopP = 1f, MinP = 0f, Seed = seed });
            return Enumerable.Range(0, 200).Select(_ => s.Sample(logits)).ToArray();
        }

        Assert.Equal(Run(42), Run(42));
        Assert.NotEqual(Run(42), Run(43));

        var again = new Sampler(logits.Length, new SamplingOptions { Temperature = 1.5f, TopK = 0, TopP = 1f, MinP = 0f, Seed = 42 });
        var first = Enumerable.Range(0, 20).Select(_ => again.Sample(logits)).ToArray();
        again.Reset();
        Assert.Equal(first, Enumerable.Range(0, 20).Select(_ => again.Sample(logits)).ToArray());
    }

    [Fact]
    public void Draws_follow_the_hand_computed_distribution()
    {
        // Chi-square of 40,000 draws against 0.4/0.3/0.2/0.1 (3 degrees of freedom; 16.27 is the 0.001 quantile),
        // then against top_p 0.75 + T=2 (three tokens, sqrt weights .6324555, .5477226, .4472136).
        ChiSquare(Plain() with { Seed = 11 }, Quarter, new Dictionary<int, double> { [1] = .4, [3] = .3, [0] = .2, [2] = .1 }, 16.27);
        double s = 0.6324555 + 0.5477226 + 0.4472136;
        ChiSquare(Plain(2f) with { TopP = 0.75f, Seed = 12 }, Quarter,
            new Dictionary<int, double> { [1] = 0.6324555 / s, [3] = 0.5477226 / s, [0] = 0.4472136 / s, [2] = 0 }, 13.82);
    }

    private static void ChiSquare(SamplingOptions options, float[] logits, Dictionary<int, double> expected, double limit)
    {
        const int draws = 40_000;
        var sampler = new Sampler(logits.Length, options);
        var counts = new int[logits.Length];
        for (int i = 0; i < draws; i++)
            counts[sampler.Sample(logits)]++;
        double chi = 0;
        foreach (var (id, p) in expected)
        {
            if (p == 0)
            {
                Assert.Equal(0, counts[id]);
                continue;
            }

            double e = p * draws;
            chi += (counts[id] - e) * (counts[id] - e) / e;
        }

        Assert.True(chi < limit, $"chi-square {chi:F2} ≥ {limit} (counts {string.Join(",", counts)})");
    }

    [Fact]
    public void Sampling_allocates_nothing_per_token()
    {
        float[] logits = Enumerable.Range(0, 4096).Select(i => (float)Math.Cos(i * 0.37) * 3f).ToArray();
        foreach (var options in new[] { SamplingOptions.Default with { Seed = 3 }, Plain() with { TopP = 0.9f, MinP = 0.05f }, SamplingOptions.Greedy })
        {
            var sampler = new Sampler(logits.Length, options);
            sampler.Sample(logits); // warm-up (JIT, delegate caches)
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
                sampler.Sample(logits);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void Bad_settings_and_logits_are_refused_with_the_setting_named()
    {
        Assert.Contains("temperature", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { Temperature = float.NaN })).Message);
        Assert.Contains("temperature", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { Temperature = float.PositiveInfinity })).Message);
        Assert.Contains("top_k", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { TopK = -1 })).Message);
        Assert.Contains("top_p", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { TopP = 1.5f })).Message);
        Assert.Contains("top_p", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { TopP = float.NaN })).Message);
        Assert.Contains("top_p", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { TopP = -0.1f })).Message);
        Assert.Contains("min_p", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { MinP = -0.1f })).Message);
        Assert.Contains("min_p", Assert.Throws<ArgumentException>(() => new Sampler(4, new SamplingOptions { MinP = float.NaN })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(0));

        var sampler = new Sampler(4, Plain());
        Assert.Contains("token 2", Assert.Throws<ArgumentException>(() => sampler.Sample([0f, 0f, float.NaN, 0f])).Message);
        Assert.Contains("token 0", Assert.Throws<ArgumentException>(() => sampler.Sample([float.PositiveInfinity, 0f, 0f, 0f])).Message);
        Assert.Contains("3 entries", Assert.Throws<ArgumentException>(() => sampler.Sample([0f, 0f, 0f])).Message);
        Assert.Contains("-infinity", Assert.Throws<ArgumentException>(() => sampler.Sample([float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity])).Message);
    }
}
