using System.CommandLine;
using System.Text.Json;
using Ferrum.Gguf;
using Ferrum.Inference;
using Ferrum.Sample.Demo;
using Ferrum.Sample.Generation;

namespace Ferrum.Sample.Commands;

/// <summary>
/// <c>ferrum generate [--model FILE] --prompt TEXT [-n N] [--temp T] [--seed S] [--chat] [--json]</c>: tokenizer →
/// whole MoE model → sampled text, streamed as it is generated; the built-in demo model when no file is given.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "The GGUF model (default: the built-in demo model, built once)." };
        var prompt = new Option<string>("--prompt", "-p") { Description = "The prompt text.", Required = true };
        var n = new Option<int>("-n", "--max-tokens") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 32 };
        var temp = new Option<float>("--temp") { Description = "Temperature; 0 is greedy.", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Keep the K most likely tokens (0: all).", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Keep the smallest set with this much probability.", DefaultValueFactory = _ => 0.95f };
        var minP = new Option<float>("--min-p") { Description = "Drop tokens below this fraction of the best one's probability.", DefaultValueFactory = _ => 0.05f };
        var seed = new Option<long?>("--seed") { Description = "Random seed (the same seed gives the same text)." };
        var context = new Option<int>("--ctx-size", "-c") { Description = "Context length (KV cache size in tokens).", DefaultValueFactory = _ => 2048 };
        var stop = new Option<string[]>("--stop") { Description = "Stop when the text contains this string (repeatable).", AllowMultipleArgumentsPerToken = false };
        var chat = new Option<bool>("--chat") { Description = "Send the prompt as one user message through the model's chat template." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (token ids, text, tokens/s) instead of streaming." };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all processors).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("generate", "Generate text with a whole MoE model: tokenizer, transformer, sampling, in pure .NET.");
        foreach (var o in new Option[] { model, prompt, n, temp, topK, topP, minP, seed, context, stop, chat, json, threads })
        {
            cmd.Options.Add(o);
        }

        cmd.SetAction(parse => CliErrors.Guard(parse, () =>
        {
            var request = new GenerationRequest(
                parse.GetValue(prompt)!,
                Positive(parse.GetValue(n), "-n", 1 << 20),
                new SamplingOptions
                {
                    Temperature = parse.GetValue(temp),
                    TopK = parse.GetValue(topK),
                    TopP = parse.GetValue(topP),
                    MinP = parse.GetValue(minP),
                    Seed = parse.GetValue(seed),
                },
                parse.GetValue(stop) ?? [],
                parse.GetValue(chat));
            request.Sampling.Validate();
            var path = parse.GetValue(model) ?? DemoModel.EnsureBuiltWithProgress(Console.Error);
            // --threads and --ctx-size ranges are checked up front by CliValidation.
            using var runner = TextRunner.Open(path, parse.GetValue(threads), parse.GetValue(context));
            if (parse.GetValue(json))
            {
                var result = runner.Generate(request, null, CancellationToken.None);
                WriteJson(Console.Out, path, runner, result);
                return 0;
            }

            var done = runner.Generate(request, text => Console.Out.Write(text), CancellationToken.None);
            Console.Out.WriteLine();
            Console.Error.WriteLine(Summary(done));
            return 0;
        }));
        return cmd;
    }

    /// <summary>One line: prompt and decode tokens and tokens/s, and why generation stopped.</summary>
    public static string Summary(GenerationResult r) =>
        FormattableString.Invariant(
            $"prompt: {r.Stats.PromptTokens} tokens, {r.Stats.PromptTokensPerSecond:F1} tokens/s; decode: {r.Stats.GeneratedTokens} tokens, {r.Stats.DecodeTokensPerSecond:F1} tokens/s; finish: {r.Stats.FinishReason}");

    private static int Positive(int value, string option, int max) =>
        value >= 1 && value <= max ? value : throw new ArgumentException($"{option} must be in 1..{max}, got {value}");

    private static void WriteJson(TextWriter o, string path, TextRunner runner, GenerationResult r)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", path);
            w.WriteString("architecture", runner.Architecture);
            w.WriteString("prompt", r.Prompt);
            w.WriteStartArray("prompt_token_ids");
            foreach (var t in r.PromptTokens)
            {
                w.WriteNumberValue(t);
            }

            w.WriteEndArray();
            w.WriteStartArray("token_ids");
            foreach (var t in r.Tokens)
            {
                w.WriteNumberValue(t);
            }

            w.WriteEndArray();
            w.WriteString("text", r.Text);
            w.WriteString("finish_reason", r.Stats.FinishReason?.ToString());
            w.WriteNumber("prompt_tokens", r.Stats.PromptTokens);
            w.WriteNumber("generated_tokens", r.Stats.GeneratedTokens);
            w.WriteNumber("prompt_tokens_per_s", Math.Round(r.Stats.PromptTokensPerSecond, 3));
            w.WriteNumber("decode_tokens_per_s", Math.Round(r.Stats.DecodeTokensPerSecond, 3));
            w.WriteNumber("kv_cache_bytes", runner.KvCacheBytes);
            w.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
