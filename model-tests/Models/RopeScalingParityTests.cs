using Ferrum.Gguf;
using Ferrum.Models;
using Ferrum.SyntheticModels;
using Xunit.Abstractions;

namespace Ferrum.Model.Tests.Models;

/// <summary>
/// RoPE scaling read from the metadata (linear, YaRN) against llama.cpp on the same file. The prompt runs one token at
/// a time on both sides; positions may differ by ~1e-4 once an activation rounded to int8 falls the other way (an input within float
/// summation-order noise of a rounding boundary).
/// </summary>
public class RopeScalingParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("qwen3moe", "linear")]
    [InlineData("qwen3moe", "yarn")]
    [InlineData("llama", "yarn")]
    public void Scaled_rope_matches_llama_cpp(string architecture, string type)
    {
        var source = TinyModelFiles.Get(TinyModelFiles.Spec(architecture));
        var path = Path.Combine(Path.GetTempPath(), $"ferrum-rope-{architecture}-{type}-{Environment.ProcessId}.gguf");
        try
        {
            GgufRewrite.Copy(source, path, new Dictionary<string, GgufValue>
            {
                [$"{architecture}.rope.scaling.type"] = GgufValue.From(type),
                [$"{architecture}.rope.scaling.factor"] = GgufValue.From(4f),
                [$"{architecture}.rope.scaling.original_context_length"] = GgufValue.From(256u),
            });
            var reference = LlamaCppReference.Greedy(path, WholeModelParityTests.Prompt, 4, promptTokenByToken: true);
            using var file = GgufFile.Open(path);
            using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
            Assert.Equal(0.25f, model.Config.RopeFreqScale);
            Assert.Equal(type == "yarn", model.Config.RopeYarn);
            using var s = model.CreateSession(32);
            var logits = new float[s.VocabSize];

            // Prompt token by token on both sides: every prefix's logits, most equal to summation order.
            var prefix = new List<double>();
            foreach (var (t, i) in WholeModelParityTests.Prompt.Select((t, i) => (t, i)))
            {
                s.Evaluate([t], logits);
                prefix.Add(LlamaCppReference.Nmse(logits, reference.PrefixLogits![i]));
            }

            double max = prefix.Max();
            int exact = prefix.Count(x => x < WholeModelParityTests.ExactNmse);
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(reference.Tokens[i], LlamaCppReference.ArgMax(logits));
                s.Evaluate([reference.Tokens[i]], logits);
                max = Math.Max(max, LlamaCppReference.Nmse(logits, reference.StepLogits[i]));
            }

            output.WriteLine($"{architecture} {type}: {exact} of {prefix.Count} prompt positions within NMSE {WholeModelParityTests.ExactNmse:E0} ({string.Join(' ', prefix.Select(x => x.ToString("E0")))}), max over steps {max:E2}");
            // A wrong rotation shows from position 1 on; once a rounding-boundary flip (an int8 activation rounded the
            // other way) enters the KV cache, later positions differ by ~1e-4, so half the positions and the first
            // three must be equal to rounding.
            Assert.True(exact >= prefix.Count / 2 && prefix.Take(3).All(x => x < WholeModelParityTests.ExactNmse),
                $"only {exact} of {prefix.Count} prompt positions equal to rounding");
            Assert.True(max < WholeModelParityTests.MaxNmse, $"max NMSE {max:E2}");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
