using System.Text;
using Ferrum.Inference;

namespace Ferrum.Model.Tests.Generation;

/// <summary>The generation loop over a scripted session and a hand-made vocabulary; every expected text is written out by hand.</summary>
public class TextGeneratorTests
{
    private static readonly GenerationOptions Greedy = new() { Sampling = SamplingOptions.Greedy, MaxTokens = 50 };

    private static async Task<List<GeneratedToken>> Collect(IAsyncEnumerable<GeneratedToken> tokens, Action<GeneratedToken>? each = null)
    {
        var list = new List<GeneratedToken>();
        await foreach (var t in tokens)
        {
            list.Add(t);
            each?.Invoke(t);
        }

        return list;
    }

    private static string Text(IEnumerable<GeneratedToken> tokens) => string.Concat(tokens.Select(t => t.Text));

    [Fact]
    public async Task Stops_at_end_of_generation_with_prompt_in_one_batch_and_stats()
    {
        var tok = new FakeTokenizer("Hello", " world", "!");
        int hello = tok.Piece("Hello"), world = tok.Piece(" world"), bang = tok.Piece("!");
        var prompt = new[] { FakeTokenizer.Bos, tok.ByteToken((byte)'Q'), tok.ByteToken((byte)':') };
        var session = FakeSession.Chain(tok.VocabSize, 64, new() { [prompt[^1]] = hello, [hello] = world, [world] = bang, [bang] = FakeTokenizer.Eos }, FakeTokenizer.Eos);
        var gen = new TextGenerator(tok, session);

        var tokens = await Collect(gen.GenerateAsync(prompt, Greedy));

        Assert.Equal(new[] { hello, world, bang, FakeTokenizer.Eos }, tokens.Select(t => t.TokenId));
        Assert.Equal(new[] { "Hello", " world", "!", "" }, tokens.Select(t => t.Text));
        Assert.Equal(new FinishReason?[] { null, null, null, FinishReason.EndOfGeneration }, tokens.Select(t => t.FinishReason));
        // Prompt in one batch, then one token at a time; the EOG token is not fed back.
        Assert.Equal(prompt, session.Batches[0]);
        Assert.Equal(new[] { hello, world, bang }, session.Batches.Skip(1).Select(b => Assert.Single(b)));

        var stats = gen.LastStats!;
        Assert.Equal(3, stats.PromptTokens);
        Assert.Equal(0, stats.CachedPromptTokens);
        Assert.Equal(4, stats.GeneratedTokens);
        Assert.Equal(3, stats.DecodedTokens);
        Assert.Equal(FinishReason.EndOfGeneration, stats.FinishReason);
        // The fake sleeps ≥ 1 ms per Evaluate: rates are positive and at most 1000 evaluations per second (×tokens for the prompt).
        Assert.InRange(stats.PromptTokensPerSecond, 1e-3, 3 * 1000.0);
        Assert.InRange(stats.DecodeTokensPerSecond, 1e-3, 1000.0);
        Assert.True(stats.PromptTime >= TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task Text_prompt_is_tokenized_with_the_options_flags()
    {
        var tok = new FakeTokenizer("Hi");
        var session = new FakeSession(tok.VocabSize, 64, _ => FakeTokenizer.Eos);
        var gen = new TextGenerator(tok, session);
        await Collect(gen.GenerateAsync("Hi<|im_end|>", Greedy with { AddSpecial = false, ParseSpecial = false }));
        // No BOS; "<|im_end|>" as 10 byte tokens, not the special id.
        Assert.Equal(1 + 10, session.Batches[0].Length);
        Assert.Equal(tok.Piece("Hi"), session.Batches[0][0]);
        Assert.DoesNotContain(FakeTokenizer.ImEnd, session.Batches[0]);

        await Collect(gen.GenerateAsync("Hi<|im_end|>", Greedy));
        Assert.Equal(new[] { FakeTokenizer.Bos, tok.Piece("Hi"), FakeTokenizer.ImEnd }, session.Batches[^1]);
    }

    [Fact]
    public async Task Stop_string_straddling_tokens_is_cut_and_held_text_is_released_only_when_safe()
    {
        var tok = new FakeTokenizer("Hel", "lo W", "orld", "xyz");
        int a = tok.Piece("Hel"), b = tok.Piece("lo W"), c = tok.Piece("orld"), d = tok.Piece("xyz");
        var session = FakeSession.Chain(tok.VocabSize, 64, new() { [FakeTokenizer.Bos] = a, [a] = b, [b] = c, [c] = d }, d);
        var gen = new TextGenerator(tok, session);

        var tokens = await Collect(gen.GenerateAsync([FakeTokenizer.Bos], Greedy with { StopStrings = ["lo Wo", "zzz"] }));

        // "Hel": "l" may begin "lo Wo" → "He". "llo W": "lo W" may still be it → "l". "lo World" holds "lo Wo" → "" and stop.
        Assert.Equal(new[] { "He", "l", "" }, tokens.Select(t => t.Text));
        Assert.Equal(new[] { a, b, c }, tokens.Select(t => t.TokenId));
        Assert.Equal(FinishReason.StopString, tokens[^1].FinishReason);
        Assert.Equal(FinishReason.StopString, gen.LastStats!.FinishReason);
    }

    [Fact]
    public async Task Earliest_stop_string_wins()
    {
        var tok = new FakeTokenizer("ab", "cd");
        int ab = tok.Piece("ab"), cd = tok.Piece("cd");
        var session = FakeSession.Chain(tok.VocabSize, 64, new() { [FakeTokenizer.Bos] = ab, [ab] = cd }, FakeTokenizer.Eos);
        var tokens = await Collect(new TextGenerator(tok, session).GenerateAsync([FakeTokenizer.Bos], Greedy with { StopStrings = ["cd", "bc"] }));
        Assert.Equal("a", Text(tokens));
        Assert.Equal(FinishReason.StopString, tokens[^1].FinishReason);
    }

    [Fact]
    public async Task Utf8_characters_split_across_tokens_are_released_whole()
    {
        // "é" = C3 A9 and "€" = E2 82 AC, each split over tokens.
        var tok = new FakeTokenizer([[(byte)'c', (byte)'a', (byte)'f'], [0xC3], [0xA9, (byte)' '], [0xE2, 0x82], [0xAC]]);
        int caf = tok.Piece("caf"u8.ToArray()), c3 = tok.Piece([0xC3]), a9 = tok.Piece([0xA9, (byte)' ']);
        int e282 = tok.Piece([0xE2, 0x82]), ac = tok.Piece([0xAC]);
        var session = FakeSession.Chain(tok.VocabSize, 64,
            new() { [FakeTokenizer.Bos] = caf, [caf] = c3, [c3] = a9, [a9] = e282, [e282] = ac, [ac] = FakeTokenizer.Eos }, FakeTokenizer.Eos);

        var tokens = await Collect(new TextGenerator(tok, session).GenerateAsync([FakeTokenizer.Bos], Greedy));
        Assert.Equal(new[] { "caf", "", "é ", "", "€", "" }, tokens.Select(t => t.Text));

        // A stop string with a multi-byte character: "é " is found only once its second byte has arrived.
        var session2 = FakeSession.Chain(tok.VocabSize, 64,
            new() { [FakeTokenizer.Bos] = caf, [caf] = c3, [c3] = a9, [a9] = e282 }, FakeTokenizer.Eos);
        var stopped = await Collect(new TextGenerator(tok, session2).GenerateAsync([FakeTokenizer.Bos], Greedy with { StopStrings = ["é "] }));
        Assert.Equal(new[] { "caf", "", "" }, stopped.Select(t => t.Text));
        Assert.Equal(FinishReason.StopString, stopped[^1].FinishReason);

        // Ending in the middle of a character (max tokens) flushes the incomplete bytes as U+FFFD.
        var session3 = FakeSession.Chain(tok.VocabSize, 64, new() { [FakeTokenizer.Bos] = caf, [caf] = e282 }, FakeTokenizer.Eos);
        var cut = await Collect(new TextGenerator(tok, session3).GenerateAsync([FakeTokenizer.Bos], Greedy with { MaxTokens = 2 }));
        Assert.Equal("caf\uFFFD", Text(cut));
        Assert.Equal(FinishReason.MaxTokens, cut[^1].FinishReason);
    }

    [Fact]
    public async Task Held_prefix_of_a_stop_string_is_released_at_the_end()
    {
        var tok = new FakeTokenizer("ok", "<", "/");
        int ok = tok.Piece("ok"), lt = tok.Piece("<"), slash = tok.Piece("/");
        var session = FakeSession.Chain(tok.VocabSize, 64, new() { [FakeTokenizer.Bos] = ok, [ok] = lt, [lt] = slash, [slash] = FakeTokenizer.Eos }, FakeTokenizer.Eos);
        var tokens = await Collect(new TextGenerator(tok, session).GenerateAsync([FakeTokenizer.Bos], Greedy with { StopStrings = ["</end>"] }));
        Assert.Equal(new[] { "ok", "", "", "</" }, tokens.Select(t => t.Text));
        Assert.Equal(FinishReason.EndOfGeneration, tokens[^1].FinishReason);
    }

    [Fact]
    public async Task Max_tokens_ends_the_generation()
    {
        var tok = new FakeTokenizer("a");
        int a = tok.Piece("a");
        var session = new FakeSession(tok.VocabSize, 64, _ => a);
        var gen = new TextGenerator(tok, session);
        var tokens = await Collect(gen.GenerateAsync([FakeTokenizer.Bos], Greedy with { MaxTokens = 5 }));
        Assert.Equal("aaaaa", Text(tokens));
        Assert.Equal(FinishReason.MaxTokens, tokens[^1].FinishReason);
        Assert.All(tokens.SkipLast(1), t => Assert.Null(t.FinishReason));
        Assert.Equal(5, gen.LastStats!.GeneratedTokens);
        Assert.Equal(4, gen.LastStats.DecodedTokens);
    }

    [Fact]
    public async Task Full_context_ends_the_generation_and_an_oversized_prompt_is_refused()
    {
        var tok = new FakeTokenizer("a");
        int a = tok.Piece("a");
        // Context 5, prompt 3: t1 sampled at position 3, fed back (4); t2 fed back (5); t3 cannot be fed back.
        var session = new FakeSession(tok.VocabSize, 5, _ => a);
        var gen = new TextGenerator(tok, session);
        var tokens = await Collect(gen.GenerateAsync([FakeTokenizer.Bos, a, a], Greedy));
        Assert.Equal(3, tokens.Count);
        Assert.Equal(FinishReason.ContextFull, tokens[^1].FinishReason);
        Assert.Equal(5, session.Position);

        var e = Assert.Throws<ArgumentException>(() => gen.GenerateAsync(new int[6], Greedy));
        Assert.Contains("6 tokens", e.Message);
        Assert.Contains("5", e.Message);
        Assert.Throws<ArgumentException>(() => gen.GenerateAsync(Array.Empty<int>(), Greedy));
        Assert.Contains("id 9999", Assert.Throws<ArgumentOutOfRangeException>(() => gen.GenerateAsync([0, 9999], Greedy)).Message);
        Assert.Throws<ArgumentException>(() => gen.GenerateAsync([0], Greedy with { MaxTokens = 0 }));
        Assert.Throws<ArgumentException>(() => gen.GenerateAsync([0], Greedy with { StopStrings = [""] }));
    }

    [Fact]
    public async Task Cancellation_between_tokens_stops_promptly_and_the_session_stays_usable()
    {
        var tok = new FakeTokenizer("a");
        int a = tok.Piece("a");
        var session = new FakeSession(tok.VocabSize, 256, _ => a);
        var gen = new TextGenerator(tok, session);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Collect(gen.GenerateAsync([FakeTokenizer.Bos], Greedy with { MaxTokens = 100 }, cts.Token), _ =>
            {
                if (++seen == 2)
                    cts.Cancel();
            }));
        Assert.Equal(2, seen);
        Assert.Null(gen.LastStats!.FinishReason);
        Assert.Equal(2, gen.LastStats.GeneratedTokens);
        // Prompt + the first token fed back; the session agrees with what the generator cached.
        Assert.Equal(2, session.Position);
        Assert.Equal(session.History, gen.CachedTokens);

        var after = await Collect(gen.GenerateAsync([FakeTokenizer.Bos, a], Greedy with { MaxTokens = 3 }));
        Assert.Equal("aaa", Text(after));
    }

    [Fact]
    public async Task Cancellation_inside_evaluate_leaves_the_position_unchanged()
    {
        var tok = new FakeTokenizer("a");
        int a = tok.Piece("a");
        var session = new FakeSession(tok.VocabSize, 256, _ => a);
        var gen = new TextGenerator(tok, session);
        using var cts = new CancellationTokenSource();
        session.OnEvaluate = batch =>
        {
            if (batch == 3)
                cts.Cancel(); // as if cancelled while the model runs its layers
        };
        var received = new List<GeneratedToken>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Collect(gen.GenerateAsync([FakeTokenizer.Bos, a], Greedy with { MaxTokens = 100 }, cts.Token), received.Add));
        Assert.Equal(3, received.Count); // sampled after batches 0, 1, 2
        Assert.Equal(4, session.Position); // prompt (2) + two fed-back tokens; the third was cancelled
        Assert.Equal(session.History, gen.CachedTokens);

        session.OnEvaluate = null;
        var after = await Collect(gen.GenerateAsync([FakeTokenizer.Bos, a, a, a, a], Greedy with { MaxTokens = 2 }));
        Assert.Equal("aa", Text(after));
        Assert.Equal(4, gen.LastStats!.CachedPromptTokens);
    }

    [Fact]
    public async Task A_prompt_extending_the_cached_tokens_evaluates_only_the_new_ones()
    {
        var tok = new FakeTokenizer("x", "y");
        int x = tok.Piece("x"), y = tok.Piece("y");
        var session = FakeSession.Chain(tok.VocabSize, 64, new() { [x] = y, [y] = FakeTokenizer.Eos }, FakeTokenizer.Eos);
        var gen = new TextGenerator(tok, session);
        await Collect(gen.GenerateAsync([FakeTokenizer.Bos, x], Greedy)); // y, EOS; y fed back
        Assert.Equal(new[] { FakeTokenizer.Bos, x, y }, gen.CachedTokens);

        await Collect(gen.GenerateAsync([FakeTokenizer.Bos, x, y, FakeTokenizer.Eos, x], Greedy));
        Assert.Equal(new[] { FakeTokenizer.Eos, x }, session.Batches[2]);
        Assert.Equal(3, gen.LastStats!.CachedPromptTokens);
        Assert.Equal(0, session.Resets);

        // A prompt that diverges resets the session and evaluates everything.
        await Collect(gen.GenerateAsync([FakeTokenizer.Bos, y], Greedy));
        Assert.Equal(1, session.Resets);
        Assert.Equal(new[] { FakeTokenizer.Bos, y }, session.Batches[^1]);

        gen.ReuseCachedPrefix = false;
        await Collect(gen.GenerateAsync([FakeTokenizer.Bos, y, x], Greedy));
        Assert.Equal(2, session.Resets);
        Assert.Equal(0, gen.LastStats!.CachedPromptTokens);
    }

    [Fact]
    public async Task Overlapping_generations_are_refused()
    {
        var tok = new FakeTokenizer("a");
        int a = tok.Piece("a");
        var gen = new TextGenerator(tok, new FakeSession(tok.VocabSize, 64, _ => a));
        await using var first = gen.GenerateAsync([FakeTokenizer.Bos], Greedy).GetAsyncEnumerator();
        Assert.True(await first.MoveNextAsync());
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => Collect(gen.GenerateAsync([FakeTokenizer.Bos], Greedy)));
        Assert.Contains("already generating", e.Message);
        Assert.True(await first.MoveNextAsync());
    }

    [Fact]
    public async Task Sampled_generation_is_reproducible_with_a_seed()
    {
        var tok = new FakeTokenizer("a", "b", "c");
        int[] pieces = [tok.Piece("a"), tok.Piece("b"), tok.Piece("c")];
        // Flat logits over the three pieces: every token is a draw.
        void Flat(IReadOnlyList<int> _, Span<float> logits)
        {
            logits.Fill(float.NegativeInfinity);
            foreach (var p in pieces)
                logits[p] = 0f;
        }

        async Task<string> Run(long seed) => Text(await Collect(new TextGenerator(tok, new FakeSession(tok.VocabSize, 256, Flat))
            .GenerateAsync([FakeTokenizer.Bos], new GenerationOptions { MaxTokens = 40, Sampling = new SamplingOptions { Seed = seed, Temperature = 1f } })));

        Assert.Equal(await Run(5), await Run(5));
        Assert.NotEqual(await Run(5), await Run(6));
        Assert.Matches("^[abc]{40}$", await Run(5));
    }
}
