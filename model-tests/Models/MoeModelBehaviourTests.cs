using Ferrum.Gguf;
using Ferrum.Models;
using Ferrum.Quantization;
using Ferrum.SyntheticModels;
using Xunit.Abstractions;

namespace Ferrum.Model.Tests.Models;

/// <summary>Batched prefill, tied embeddings, KV cache accounting, and the errors of the whole-model forward.</summary>
public class MoeModelBehaviourTests(ITestOutputHelper output)
{
    private static readonly int[] Prompt = WholeModelParityTests.Prompt;

    [Theory]
    [InlineData("qwen3moe")]
    [InlineData("qwen2moe")]
    public void Prefill_in_one_batch_matches_token_by_token_and_chunked(string architecture)
    {
        var path = TinyModelFiles.Get(TinyModelFiles.Spec(architecture));
        using var file = GgufFile.Open(path);
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        using var chunked = MoeModel.Load(file, new MoeModelOptions { Threads = 2, MaxBatch = 5 });
        var batch = new float[model.VocabSize];
        var single = new float[model.VocabSize];
        var chunks = new float[model.VocabSize];
        using (var s = model.CreateSession(32))
        {
            s.Evaluate(Prompt, batch);
        }

        using (var s = model.CreateSession(32))
        {
            foreach (var t in Prompt)
            {
                s.Evaluate([t], single);
            }

            Assert.Equal(Prompt.Length, s.Position);
        }

        using (var s = chunked.CreateSession(32))
        {
            s.Evaluate(Prompt, chunks);
        }

        double a = LlamaCppReference.Nmse(single, batch), b = LlamaCppReference.Nmse(chunks, batch);
        output.WriteLine($"{architecture}: NMSE token-by-token vs batch {a:E2}, chunked (5) vs batch {b:E2}");
        Assert.True(a < 1e-10, $"token-by-token vs one batch: NMSE {a:E2}");
        Assert.True(b < 1e-10, $"chunked vs one batch: NMSE {b:E2}");
    }

    [Fact]
    public void Tied_embeddings_model_matches_llama_cpp()
    {
        // A tied head scores the current token highest, so greedy decoding repeats it; the logits still check the head.
        var spec = SyntheticModelPresets.TinyQwen3Moe with { TiedEmbeddings = true, Seed = 21 };
        Assert.DoesNotContain(SyntheticModelWriter.TensorList(spec), t => t.Name == "output.weight");
        var path = TinyModelFiles.Get(spec);
        const int steps = 8;
        var reference = LlamaCppReference.Greedy(path, Prompt, steps);
        using var file = GgufFile.Open(path);
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        Assert.True(model.TiedEmbeddings);
        using var s = model.CreateSession(32);
        var logits = new float[s.VocabSize];
        s.Evaluate(Prompt, logits);
        double max = LlamaCppReference.Nmse(logits, reference.PromptLogits);
        for (int i = 0; i < steps; i++)
        {
            var token = LlamaCppReference.ArgMax(logits);
            Assert.Equal(reference.Tokens[i], token);
            s.Evaluate([token], logits);
            max = Math.Max(max, LlamaCppReference.Nmse(logits, reference.StepLogits[i]));
        }

        output.WriteLine($"tied: tokens {string.Join(" ", reference.Tokens)}, max NMSE {max:E2}, prompt margin {LlamaCppReference.Margin(reference.PromptLogits):F2}");
        Assert.True(max < WholeModelParityTests.MaxNmse, $"tied embeddings: NMSE {max:E2}");
    }

    [Fact]
    public void Kv_cache_is_f16_by_default_and_its_size_is_reported()
    {
        // TinyQwen3Moe: 2 layers, 2 KV heads × 64 = 128 per position, K and V.
        var path = TinyModelFiles.Get(SyntheticModelPresets.TinyQwen3Moe);
        using var file = GgufFile.Open(path);
        using var f16 = MoeModel.Load(file, new MoeModelOptions { Threads = 1 });
        using var f32 = MoeModel.Load(file, new MoeModelOptions { Threads = 1, KvCacheType = GgmlType.F32 });
        using var s16 = f16.CreateMoeSession(64);
        using var s32 = f32.CreateMoeSession(64);
        Assert.Equal(2 * 2 * 64 * 128 * 2, s16.KvCacheBytes);
        Assert.Equal(2 * 2 * 64 * 128 * 4, s32.KvCacheBytes);

        // The f32 cache is close to the f16 one, not identical (llama.cpp's default is f16).
        var a = new float[f16.VocabSize];
        var b = new float[f16.VocabSize];
        s16.Evaluate(Prompt, a);
        s32.Evaluate(Prompt, b);
        var nmse = LlamaCppReference.Nmse(b, a);
        Assert.InRange(nmse, 1e-12, 1e-2);
    }

    [Fact]
    public void Decode_allocates_nothing_in_steady_state()
    {
        var path = TinyModelFiles.Get(SyntheticModelPresets.TinyQwen3Moe);
        using var file = GgufFile.Open(path);
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        using var s = model.CreateSession(64);
        var logits = new float[s.VocabSize];
        s.Evaluate(Prompt, logits);
        int[] token = [3];
        for (int i = 0; i < 4; i++)
        {
            s.Evaluate(token, logits);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 16; i++)
        {
            token[0] = LlamaCppReference.ArgMax(logits);
            s.Evaluate(token, logits);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Bad_calls_fail_clearly_and_cancellation_leaves_the_position()
    {
        var path = TinyModelFiles.Get(SyntheticModelPresets.TinyQwen3Moe);
        using var file = GgufFile.Open(path);
        var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        var s = model.CreateSession(16);
        var logits = new float[s.VocabSize];
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => s.Evaluate([1, s.VocabSize], logits));
        Assert.Contains($"token id {s.VocabSize} at index 1", bad.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Evaluate([-1], logits));
        Assert.Throws<ArgumentException>(() => s.Evaluate([1], new float[3]));
        Assert.Equal(0, s.Position);

        s.Evaluate(Prompt, logits);
        var overflow = Assert.Throws<InvalidOperationException>(() => s.Evaluate([1, 2, 3, 4, 5], logits));
        Assert.Contains("context length 16", overflow.Message);
        Assert.Equal(Prompt.Length, s.Position);

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => s.Evaluate([7], logits, cts.Token));
        Assert.Equal(Prompt.Length, s.Position);

        // The cancelled pass left nothing behind: the next token evaluates as in a fresh session.
        var after = new float[s.VocabSize];
        s.Evaluate([7], after);
        using (var fresh = model.CreateSession(16))
        {
            var expected = new float[s.VocabSize];
            fresh.Evaluate(Prompt, expected);
            fresh.Evaluate([7], expected);
            Assert.Equal(expected, after);
        }

        s.Reset();
        Assert.Equal(0, s.Position);
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.Evaluate([1], logits));
        Assert.Throws<ObjectDisposedException>(() => model.CreateSession(4));
        s.Dispose();
    }

    [Theory]
    [InlineData("deepseek2", "multi-head latent attention")]
    [InlineData("gpt-oss", "attention sinks")]
    [InlineData("phimoe", "architecture 'phimoe' is not supported")]
    public void Unsupported_architectures_name_what_is_missing(string architecture, string expected)
    {
        var source = TinyModelFiles.Get(SyntheticModelPresets.TinyQwen3Moe);
        var path = Path.Combine(Path.GetTempPath(), $"ferrum-{architecture}-{Environment.ProcessId}.gguf");
        try
        {
            GgufRewrite.Copy(source, path, new Dictionary<string, GgufValue>
            {
                ["general.architecture"] = GgufValue.From(architecture),
                [$"{architecture}.expert_count"] = GgufValue.From(8u),
            });
            using var file = GgufFile.Open(path);
            var e = Assert.Throws<NotSupportedException>(() => MoeModel.Load(file));
            Assert.Contains(expected, e.Message);
            Assert.Contains(architecture, e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("blk.1.attn_k_norm.weight", null)]
    [InlineData("blk.0.ffn_down_exps.weight", null)]
    [InlineData("output_norm.weight", null)]
    [InlineData(null, "blk.1.attn_q.weight")]
    [InlineData(null, "blk.0.ffn_gate_exps.weight")]
    public void Missing_or_malformed_tensors_are_named(string? missing, string? truncated)
    {
        var source = TinyModelFiles.Get(SyntheticModelPresets.TinyQwen3Moe);
        var path = Path.Combine(Path.GetTempPath(), $"ferrum-broken-{Guid.NewGuid():N}.gguf");
        try
        {
            GgufRewrite.Copy(source, path, drop: missing != null ? [missing] : null, truncate: truncated);
            using var file = GgufFile.Open(path);
            var e = Assert.ThrowsAny<GgufException>(() => MoeModel.Load(file));
            Assert.Contains($"'{missing ?? truncated}'", e.Message);
            output.WriteLine(e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
