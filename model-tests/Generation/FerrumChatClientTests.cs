using Ferrum.Inference;
using Microsoft.Extensions.AI;

namespace Ferrum.Model.Tests.Generation;

/// <summary>FerrumChatClient through a scripted session and a hand-made vocabulary with the chatml template.</summary>
public class FerrumChatClientTests
{
    private readonly FakeTokenizer _tok = new("Hello", " world");
    private int Hello => _tok.Piece("Hello");
    private int World => _tok.Piece(" world");

    // After the generation prompt ("assistant\n") the model says "Hello world<|im_end|>".
    private FakeSession NewSession(int context = 256) => FakeSession.Chain(_tok.VocabSize, context,
        new() { [_tok.ByteToken((byte)'\n')] = Hello, [Hello] = World, [World] = FakeTokenizer.ImEnd }, FakeTokenizer.Eos);

    private FerrumChatClient NewClient(FakeSession session, FerrumChatClientOptions? options = null) =>
        new(_tok, session, ChatTemplate.FromName("chatml"), options ?? new FerrumChatClientOptions { Sampling = SamplingOptions.Greedy, ModelId = "fake-moe" });

    // "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" with BOS: BOS, im_start, u s e r \n, H i, im_end, \n,
    // im_start, a s s i s t a n t \n = 1 + 1 + 5 + 2 + 1 + 1 + 1 + 10 tokens.
    private const int HiPromptTokens = 22;

    [Fact]
    public async Task Get_response_returns_text_finish_reason_and_usage()
    {
        var session = NewSession();
        using var client = NewClient(session);
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]);

        Assert.Equal("Hello world", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.Equal("fake-moe", response.ModelId);
        Assert.Equal(HiPromptTokens, response.Usage!.InputTokenCount);
        Assert.Equal(3, response.Usage.OutputTokenCount); // Hello, " world", <|im_end|>
        Assert.Equal(HiPromptTokens + 3, response.Usage.TotalTokenCount);
        Assert.Equal("<s><|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", _tok.Decode(session.Batches[0], renderSpecial: true));
        Assert.Equal(3, client.LastStats!.GeneratedTokens);
    }

    [Fact]
    public async Task Streaming_yields_text_updates_then_finish_and_usage()
    {
        using var client = NewClient(NewSession());
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")]))
            updates.Add(u);

        Assert.Equal(new[] { "Hello", " world", "" }, updates.Select(u => u.Text));
        Assert.All(updates.SkipLast(1), u => Assert.Null(u.FinishReason));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        var usage = Assert.IsType<UsageContent>(Assert.Single(updates[^1].Contents)).Details;
        Assert.Equal(HiPromptTokens, usage.InputTokenCount);
        Assert.Equal(3, usage.OutputTokenCount);
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
    }

    [Fact]
    public async Task Max_output_tokens_and_stop_sequences_map_to_length_and_stop()
    {
        using var client = NewClient(NewSession());
        var cut = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { MaxOutputTokens = 1 });
        Assert.Equal("Hello", cut.Text);
        Assert.Equal(ChatFinishReason.Length, cut.FinishReason);

        var stopped = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { StopSequences = [" wor"] });
        Assert.Equal("Hello", stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);

        var full = await NewClient(NewSession(context: HiPromptTokens + 1)).GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]);
        Assert.Equal("Hello world", full.Text); // Hello fed back fills the context; " world" is the last token
        Assert.Equal(ChatFinishReason.Length, full.FinishReason);
    }

    [Fact]
    public void Chat_options_map_to_generation_options()
    {
        var defaults = new FerrumChatClientOptions
        {
            Sampling = new SamplingOptions { Temperature = 0.7f, TopK = 20, TopP = 0.9f, MinP = 0.1f, Seed = 1 },
            MaxOutputTokens = 64,
            StopStrings = ["END"],
        };
        using var client = NewClient(NewSession(), defaults);

        var g = client.ToGenerationOptions(new ChatOptions { Temperature = 0.3f, TopP = 0.5f, TopK = 7, Seed = 9, MaxOutputTokens = 11, StopSequences = ["x", "yz"] });
        Assert.Equal(new SamplingOptions { Temperature = 0.3f, TopK = 7, TopP = 0.5f, MinP = 0.1f, Seed = 9 }, g.Sampling);
        Assert.Equal(11, g.MaxTokens);
        Assert.Equal(new[] { "END", "x", "yz" }, g.StopStrings);
        Assert.True(g.AddSpecial);
        Assert.True(g.ParseSpecial);

        var d = client.ToGenerationOptions(null);
        Assert.Equal(defaults.Sampling, d.Sampling);
        Assert.Equal(64, d.MaxTokens);
        Assert.Equal(new[] { "END" }, d.StopStrings);

        var partial = client.ToGenerationOptions(new ChatOptions { Temperature = 0f });
        Assert.True(partial.Sampling.IsGreedy);
        Assert.Equal(20, partial.Sampling.TopK);

        IEnumerable<ChatMessage> hi = [new ChatMessage(ChatRole.User, "Hi")];
        Assert.Contains("top_p", Assert.Throws<ArgumentException>(() => client.GetStreamingResponseAsync(hi, new ChatOptions { TopP = 2f })).Message);
        Assert.Contains("MaxOutputTokens", Assert.Throws<ArgumentException>(() => client.GetStreamingResponseAsync(hi, new ChatOptions { MaxOutputTokens = 0 })).Message);
        Assert.Throws<NotSupportedException>(() => client.GetStreamingResponseAsync(hi, new ChatOptions { FrequencyPenalty = 0.5f }));
        Assert.Throws<NotSupportedException>(() => client.GetStreamingResponseAsync(hi, new ChatOptions { Tools = [AIFunctionFactory.Create(() => 1, "one")] }));
        Assert.Throws<NotSupportedException>(() => client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1 }, "image/png")])]));
        Assert.Throws<ArgumentException>(() => client.GetStreamingResponseAsync([]));
    }

    [Fact]
    public async Task Instructions_become_the_system_message()
    {
        var session = NewSession();
        using var client = NewClient(session);
        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { Instructions = "Be nice" });
        Assert.Equal("<s><|im_start|>system\nBe nice<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            _tok.Decode(session.Batches[0], renderSpecial: true));
    }

    [Fact]
    public async Task The_next_turn_reuses_the_cached_prompt_and_response()
    {
        var session = NewSession();
        using var client = NewClient(session);
        var first = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]);
        var second = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi"), .. first.Messages, new ChatMessage(ChatRole.User, "Hi")]);
        // Cached: the first prompt (22) + "Hello" and " world" fed back; <|im_end|> was sampled, not evaluated.
        Assert.Equal(HiPromptTokens + 2, second.Usage!.CachedInputTokenCount);
        Assert.Equal(0, session.Resets);
        Assert.Equal("<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", _tok.Decode(session.Batches[3], renderSpecial: true));
        Assert.Equal("Hello world", second.Text);
    }

    [Fact]
    public async Task Cancellation_stops_the_stream_and_the_client_stays_usable()
    {
        using var client = NewClient(NewSession());
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")], null, cts.Token))
            {
                seen++;
                cts.Cancel();
            }
        });
        Assert.Equal(1, seen);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")], null, cts.Token));
        Assert.Equal("Hello world", (await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")])).Text);
    }

    [Fact]
    public async Task Concurrent_requests_are_refused_not_queued()
    {
        using var client = NewClient(NewSession());
        await using (var running = client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")]).GetAsyncEnumerator())
        {
            Assert.True(await running.MoveNextAsync());
            var e = await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]));
            Assert.Contains("one request at a time", e.Message);
            while (await running.MoveNextAsync())
            {
            }
        }

        Assert.Equal("Hello world", (await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")])).Text);
    }

    [Fact]
    public void Get_service_returns_metadata_and_the_client()
    {
        using var client = NewClient(NewSession());
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("ferrum", metadata.ProviderName);
        Assert.Equal("fake-moe", metadata.DefaultModelId);
        Assert.Same(client, client.GetService<IChatClient>());
        Assert.Same(client.Template, client.GetService<ChatTemplate>());
        Assert.Null(client.GetService(typeof(ChatClientMetadata), "key"));
        Assert.Null(client.GetService<string>());
    }

    [Fact]
    public async Task A_factory_session_is_created_on_first_use_and_disposed_with_the_client()
    {
        FakeSession? created = null;
        var client = new FerrumChatClient(_tok, () => created = NewSession(), ChatTemplate.FromName("chatml"),
            new FerrumChatClientOptions { Sampling = SamplingOptions.Greedy });
        Assert.Null(created);
        Assert.Equal("Hello world", (await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")])).Text);
        Assert.NotNull(created);
        client.Dispose();
        Assert.True(created.Disposed);
        Assert.Throws<ObjectDisposedException>(() => client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")]));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]));
        Assert.Throws<ObjectDisposedException>(() => client.Template);
        Assert.Throws<ObjectDisposedException>(() => client.LastStats);
        Assert.Throws<ObjectDisposedException>(() => client.GetService<ChatTemplate>());
        client.Dispose(); // twice: harmless

        // Disposed while a request runs: the session goes when the request ends.
        FakeSession? running = null;
        var client2 = new FerrumChatClient(_tok, () => running = NewSession(), ChatTemplate.FromName("chatml"),
            new FerrumChatClientOptions { Sampling = SamplingOptions.Greedy });
        await using (var e = client2.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")]).GetAsyncEnumerator())
        {
            Assert.True(await e.MoveNextAsync());
            client2.Dispose();
            Assert.False(running!.Disposed);
            while (await e.MoveNextAsync())
            {
            }
        }

        Assert.True(running.Disposed);

        var borrowed = NewSession();
        NewClient(borrowed).Dispose();
        Assert.False(borrowed.Disposed);
    }
}
