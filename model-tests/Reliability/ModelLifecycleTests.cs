using System.Diagnostics;
using Ferrum.Gguf;
using Ferrum.Inference;
using Ferrum.Model.Tests.Models;
using Ferrum.Models;
using Ferrum.SyntheticModels;
using Ferrum.Text;

namespace Ferrum.Model.Tests.Reliability;

/// <summary>
/// Issue 16 on whole models: cancellation of loading, of a long prefill and of generation stops promptly and leaves the
/// objects usable (checked against a fresh run); disposal in any order is ObjectDisposedException, never a crash; a model
/// read with NoMmap gives the same logits as the mapped one and survives the file being truncated.
/// </summary>
public sealed class ModelLifecycleTests
{
    private static string Tiny => TinyModelFiles.Get(SyntheticModelPresets.TinyQwen3Moe);

    [Fact]
    public void Cancelled_load_throws_and_the_file_still_loads()
    {
        using var file = GgufFile.Open(Tiny);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => MoeModel.Load(file, new MoeModelOptions { Threads = 2 }, cts.Token));
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        using var s = model.CreateMoeSession(16);
        s.Evaluate([1, 2], new float[model.VocabSize]);
    }

    [Fact]
    public void Long_prefill_stops_promptly_when_cancelled_and_the_session_stays_right()
    {
        using var file = GgufFile.Open(Tiny);
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2, MaxBatch = 16 });
        var prompt = Enumerable.Range(0, 1024).Select(i => 1 + i * 7 % (model.VocabSize - 1)).ToArray();
        using var s = model.CreateMoeSession(1100);
        var logits = new float[model.VocabSize];

        // Time of the whole prefill, to know the cancel lands in the middle.
        var sw = Stopwatch.StartNew();
        s.Evaluate(prompt, logits);
        var full = sw.Elapsed;
        s.Reset();

        using var cts = new CancellationTokenSource(full / 4);
        sw.Restart();
        Assert.ThrowsAny<OperationCanceledException>(() => s.Evaluate(prompt, logits, cts.Token));
        var stopped = sw.Elapsed;
        Assert.True(stopped < full / 4 + TimeSpan.FromMilliseconds(250) + full / 8, $"cancel after {full / 4}, stopped after {stopped} (whole prefill {full})");
        Assert.Equal(0, s.Position);

        // Usable afterwards: the same short prompt as a fresh session, bit for bit.
        var after = new float[model.VocabSize];
        s.Evaluate(prompt[..8], after);
        using var fresh = model.CreateMoeSession(16);
        var expected = new float[model.VocabSize];
        fresh.Evaluate(prompt[..8], expected);
        Assert.Equal(expected, after);
    }

    [Fact]
    public async Task Generation_cancelled_end_to_end_stops_and_the_next_generation_matches_a_fresh_one()
    {
        using var file = GgufFile.Open(Tiny);
        var tokenizer = GgufTokenizer.FromGguf(file);
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        var greedy = new GenerationOptions { MaxTokens = 12, Sampling = SamplingOptions.Greedy, StopStrings = [] };

        using var session = model.CreateMoeSession(256);
        var gen = new TextGenerator(tokenizer, session);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var t in gen.GenerateAsync("hello world", greedy, cts.Token))
            {
                if (++seen == 3)
                {
                    cts.Cancel();
                }
            }
        });
        Assert.Equal(3, seen);

        gen.ResetCache();
        var again = new List<int>();
        await foreach (var t in gen.GenerateAsync("hello world", greedy))
        {
            again.Add(t.TokenId);
        }

        using var freshSession = model.CreateMoeSession(256);
        var fresh = new List<int>();
        await foreach (var t in new TextGenerator(tokenizer, freshSession).GenerateAsync("hello world", greedy))
        {
            fresh.Add(t.TokenId);
        }

        Assert.Equal(fresh, again);
    }

    [Fact]
    public void Disposal_in_any_order_is_ObjectDisposedException_never_a_crash()
    {
        var file = GgufFile.Open(Tiny);
        var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        var s = model.CreateMoeSession(16);
        var logits = new float[model.VocabSize];
        s.Evaluate([1, 2, 3], logits);

        // The model holds a lease: disposing the file first leaves it working.
        file.Dispose();
        s.Evaluate([4], logits);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));

        model.Dispose();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.Evaluate([5], logits));
        Assert.Throws<ObjectDisposedException>(() => s.Reset());
        Assert.Throws<ObjectDisposedException>(() => model.CreateMoeSession(16));
        s.Dispose();
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(() => MoeModel.Load(file));
    }

    [Fact]
    public void NoMmap_model_matches_the_mapped_one_and_survives_truncation_of_its_file()
    {
        var copy = Path.Combine(Path.GetTempPath(), $"ferrum-nommap-{Environment.ProcessId}.gguf");
        File.Copy(Tiny, copy, overwrite: true);
        try
        {
            var expected = Logits(GgufFile.Open(Tiny));
            using var file = GgufFile.Open(copy, new GgufOpenOptions { NoMmap = true });
            Assert.False(file.IsMapped);
            using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });

            // Truncating a mapped file would end the process with SIGBUS; the copy in memory does not care.
            using (var fs = new FileStream(copy, FileMode.Open, FileAccess.Write))
            {
                fs.SetLength(16);
            }

            using var s = model.CreateMoeSession(16);
            var logits = new float[model.VocabSize];
            s.Evaluate([1, 2, 3], logits);
            Assert.Equal(expected, logits);
        }
        finally
        {
            File.Delete(copy);
        }

        static float[] Logits(GgufFile file)
        {
            using (file)
            {
                using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
                using var s = model.CreateMoeSession(16);
                var logits = new float[model.VocabSize];
                s.Evaluate([1, 2, 3], logits);
                return logits;
            }
        }
    }
}
