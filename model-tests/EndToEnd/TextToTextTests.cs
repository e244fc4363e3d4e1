using Ferrum.Gguf;
using Ferrum.Inference;
using Ferrum.Model.Tests.Models;
using Ferrum.Models;
using Ferrum.Text;
using LLama;
using LLama.Common;
using Microsoft.Extensions.AI;

namespace Ferrum.Model.Tests.EndToEnd;

/// <summary>
/// Text in, text out, the whole way through Ferrum (GGUF tokenizer → MoE model → greedy sampler → detokenizer)
/// against llama.cpp doing the same with its own tokenizer and its own forward on the same file.
/// </summary>
public class TextToTextTests
{
    private const string Prompt = "The router sends each token to the experts with the highest scores, and";

    [Theory]
    [InlineData("qwen3moe")]
    [InlineData("qwen2moe")]
    [InlineData("olmoe")]
    [InlineData("llama")]
    public async Task Greedy_text_matches_llama_cpp(string architecture)
    {
        const int steps = 12;
        var path = TinyModelFiles.Get(TinyModelFiles.Spec(architecture));

        // llama.cpp: its tokenizer, its forward, argmax, its detokenizer.
        int[] llamaPrompt;
        string llamaText;
        int[] llamaTokens;
        {
            var p = new ModelParams(path) { ContextSize = 128, GpuLayerCount = 0, Threads = 2, BatchThreads = 2 };
            using var weights = LLamaWeights.LoadFromFile(p);
            llamaPrompt = weights.Tokenize(Prompt, add_bos: true, special: false, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();
            var run = LlamaCppReference.Greedy(path, llamaPrompt, steps);
            llamaTokens = run.Tokens;
            var decoder = new StreamingTokenDecoder(System.Text.Encoding.UTF8, weights);
            decoder.AddRange(llamaTokens.Select(t => (LLama.Native.LLamaToken)t));
            llamaText = decoder.Read();
        }

        // Ferrum: the same text through the public API only.
        using var file = GgufFile.Open(path);
        var tokenizer = GgufTokenizer.FromGguf(file);
        using var model = MoeModel.Load(file, new MoeModelOptions { Threads = 2 });
        using var session = model.CreateSession(128);
        var generator = new TextGenerator(tokenizer, session);
        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        var options = new GenerationOptions { MaxTokens = steps, Sampling = SamplingOptions.Greedy, ParseSpecial = false };
        await foreach (var t in generator.GenerateAsync(Prompt, options))
        {
            tokens.Add(t.TokenId);
            text.Append(t.Text);
        }

        Assert.Equal(llamaPrompt, tokenizer.Encode(Prompt, addSpecial: true, parseSpecial: false));
        Assert.Equal(llamaTokens.Take(tokens.Count), tokens);
        if (generator.LastStats!.FinishReason == FinishReason.MaxTokens)
        {
            Assert.Equal(steps, tokens.Count);
            Assert.Equal(llamaText, text.ToString());
        }

        Assert.Equal(llamaPrompt.Length, generator.LastStats.PromptTokens);
    }

    [Fact]
    public async Task The_readme_chat_runs_on_a_whole_model()
    {
        var path = TinyModelFiles.Get(TinyModelFiles.Spec("qwen3moe"));

        // The README's five lines, with the file name replaced.
        using var file = GgufFile.Open(path);
        using var model = MoeModel.Load(file);
        using IChatClient chat = new FerrumChatClient(GgufTokenizer.FromGguf(file), () => model.CreateSession(4096), ChatTemplate.FromGguf(file));
        var response = await chat.GetResponseAsync("Why is the sky blue?", new ChatOptions { MaxOutputTokens = 8, Seed = 1 });

        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.NotNull(response.Usage);
        Assert.True(response.Usage!.InputTokenCount > 5, $"input tokens {response.Usage.InputTokenCount}");
        Assert.InRange(response.Usage.OutputTokenCount ?? 0, 1, 8);
        Assert.Equal("chatml", ((ChatTemplate)chat.GetService(typeof(ChatTemplate))!).Name);
    }
}
