using Ferrum.Inference;
using LLama.Native;

namespace Ferrum.Model.Tests.Generation;

/// <summary>
/// The filter chain (top-k → top-p → min-p → temperature) against llama.cpp's own samplers (libllama via LLamaSharp):
/// the same tokens must survive, with the same probabilities at the draw.
/// </summary>
public class SamplerVsLlamaCppTests
{
    public static TheoryData<int, int, float, float, float> Configurations() => new()
    {
        { 1000, 40, 0.95f, 0.05f, 0.8f }, // llama.cpp's defaults
        { 1000, 0, 0.9f, 0f, 1f },
        { 1000, 0, 1f, 0.1f, 1.5f },
        { 1000, 10, 0.5f, 0.02f, 0.7f },
        { 1000, 100, 0.99f, 0f, 2f },
        { 1000, 5, 1f, 0f, 0.5f },
        { 1000, 0, 0.3f, 0f, 1f },
        { 3000, 0, 0.97f, 0f, 1f },      // over 1024 candidates, nucleus over 256: partial sort, then full sort
        { 3000, 0, 0.3f, 0f, 1f },       // over 1024 candidates, nucleus within the 256 partially sorted
        { 3000, 0, 0.5f, 0.01f, 0.9f },
        { 3000, 0, 0.999f, 0.001f, 1.2f },
        { 3000, 50, 0.8f, 0.05f, 0.9f },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Kept_tokens_and_probabilities_match_llama_cpp(int vocab, int topK, float topP, float minP, float temperature)
    {
        var options = new SamplingOptions { TopK = topK, TopP = topP, MinP = minP, Temperature = temperature, Seed = 1 };
        var random = new Random(vocab + topK);
        for (int trial = 0; trial < 5; trial++)
        {
            // Peaked logits (a few large values over a noisy floor) like a language model's.
            var logits = new float[vocab];
            for (int i = 0; i < vocab; i++)
                logits[i] = (float)(random.NextDouble() * 4 - 2 + (random.NextDouble() < 0.02 ? 6 * random.NextDouble() : 0));

            var expected = Native(logits, options);
            Assert.True(expected.Count < vocab || (topK == 0 && topP >= 1f && minP == 0f)); // the filters did cut
            var ids = new int[vocab];
            var probs = new float[vocab];
            int n = new Sampler(vocab, options).GetCandidates(logits, ids, probs);

            Assert.Equal(expected.Keys.Order(), ids[..n].Order());
            for (int i = 0; i < n; i++)
                Assert.Equal(expected[ids[i]], (double)probs[i], 1e-5);
        }
    }

    private static Dictionary<int, double> Native(float[] logits, SamplingOptions o)
    {
        // NativeApi's static constructor installs LLamaSharp's library resolver; the sampler handle's imports rely on it.
        Assert.True(NativeApi.llama_max_devices() >= 1);
        using var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        chain.AddTopK(o.TopK);
        chain.AddTopP(o.TopP, 1);
        chain.AddMinP(o.MinP, 1);
        chain.AddTemperature(o.Temperature);
        var array = LLamaTokenDataArray.Create(logits);
        var kept = new List<(int Id, float Logit)>();
        using (LLamaTokenDataArrayNative.Create(array, out var native))
        {
            chain.Apply(ref native);
            var data = native.Data;
            for (int i = 0; i < (int)native.Size; i++)
                kept.Add(((int)data[i].ID, data[i].Logit));
        }

        // Probabilities at the draw: softmax of the surviving (temperature-scaled) logits.
        double max = kept.Max(k => k.Logit);
        double sum = kept.Sum(k => Math.Exp(k.Logit - max));
        return kept.ToDictionary(k => k.Id, k => Math.Exp(k.Logit - max) / sum);
    }
}
