using System.Text.Json;
using Ferrum.SyntheticModels;

namespace Ferrum.Cli.Tests;

/// <summary><c>ferrum generate</c> as a user runs it, on a tiny synthetic whole model.</summary>
public sealed class GenerateCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-generate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Model()
    {
        var path = Path.Combine(_dir, "tiny-qwen3moe.gguf");
        SyntheticModelWriter.Write(SyntheticModelPresets.TinyQwen3Moe, path);
        return path;
    }

    [Fact]
    public void Json_has_token_ids_text_and_tokens_per_second_and_greedy_is_repeatable()
    {
        var model = Model();
        var a = FerrumProcess.Run("generate", "--model", model, "--prompt", "The experts", "-n", "6", "--temp", "0", "--json", "--threads", "2");
        Assert.True(a.ExitCode == 0, a.Stderr);
        using var doc = JsonDocument.Parse(a.Stdout);
        var root = doc.RootElement;
        var ids = root.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.InRange(ids.Length, 1, 6);
        Assert.All(ids, id => Assert.InRange(id, 0, SyntheticModelPresets.TinyQwen3Moe.VocabSize - 1));
        Assert.True(root.GetProperty("prompt_token_ids").GetArrayLength() >= 2);
        Assert.Equal(JsonValueKind.String, root.GetProperty("text").ValueKind);
        Assert.True(root.GetProperty("prompt_tokens_per_s").GetDouble() > 0);
        Assert.True(root.GetProperty("decode_tokens_per_s").GetDouble() > 0);
        Assert.Equal("qwen3moe", root.GetProperty("architecture").GetString());

        // Greedy decoding of the same prompt gives the same tokens.
        var b = FerrumProcess.Run("generate", "--model", model, "--prompt", "The experts", "-n", "6", "--temp", "0", "--json", "--threads", "1");
        Assert.True(b.ExitCode == 0, b.Stderr);
        using var doc2 = JsonDocument.Parse(b.Stdout);
        Assert.Equal(ids, doc2.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    [Fact]
    public void Streams_text_and_prints_prompt_and_decode_tokens_per_second()
    {
        var r = FerrumProcess.Run("generate", "--model", Model(), "--prompt", "Hello", "-n", "4", "--seed", "3", "--chat");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"prompt: \d+ tokens, [\d.]+ tokens/s; decode: \d+ tokens, [\d.]+ tokens/s; finish: \w+", r.Stderr);
    }

    [Theory]
    [InlineData("-n", "0", "-n must be in 1..")]
    [InlineData("--temp", "NaN", "--temp NaN must be a finite")]
    [InlineData("--top-p", "1.5", "--top-p 1.5 must be in 0..")]
    [InlineData("--ctx-size", "-4", "--ctx-size -4 must be in 1..")]
    [InlineData("--threads", "100000", "--threads 100000 must be in 1..1024")]
    public void Nonsense_arguments_are_one_line_errors(string option, string value, string message)
    {
        var r = FerrumProcess.Run("generate", "--model", Model(), "--prompt", "x", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_model_the_forward_does_not_run_is_a_clear_error()
    {
        var path = Path.Combine(_dir, "not-a-model.gguf");
        File.WriteAllBytes(path, new Ferrum.Gguf.GgufWriter().AddMetadata("general.architecture", "deepseek2").ToArray());
        var r = FerrumProcess.Run("generate", "--model", path, "--prompt", "x");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("ferrum: error:", r.Stderr.Trim());
    }
}
