using Ferrum.Gguf;
using Ferrum.Model.Tests.Models;
using Ferrum.Models;

namespace Ferrum.Model.Tests.Reliability;

/// <summary>Sessions of one model evaluated on several threads take turns and each gets its own sequential result.</summary>
public class ConcurrentSessionsTests
{
    [Fact]
    public void Concurrent_sessions_of_one_model_give_their_sequential_logits()
    {
        var path = TinyModelFiles.Get(TinyModelFiles.Spec("qwen2moe"));
        using var file = GgufFile.Open(path);
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        int[][] prompts = [[1, 2, 3, 4, 5, 6], [7, 8, 9], [10, 11, 12, 13], [14]];
        var expected = prompts.Select(p =>
        {
            using var s = model.CreateSession(32);
            var logits = new float[model.VocabSize];
            s.Evaluate(p, logits);
            s.Evaluate([p[0]], logits);
            return logits;
        }).ToArray();

        var actual = new float[prompts.Length][];
        Parallel.For(0, prompts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            using var s = model.CreateSession(32);
            var logits = new float[model.VocabSize];
            s.Evaluate(prompts[i], logits);
            s.Evaluate([prompts[i][0]], logits);
            actual[i] = logits;
        });

        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }
    }
}
