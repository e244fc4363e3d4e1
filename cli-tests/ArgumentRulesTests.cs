using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Cli.Tests;

/// <summary>Runs <c>ferrum</c> in this process (Program.Main) with stdout and stderr captured.</summary>
internal static class InProcessCli
{
    private static readonly object Gate = new();

    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        lock (Gate)
        {
            var (o, e) = (Console.Out, Console.Error);
            var (so, se) = (new StringWriter(), new StringWriter());
            Console.SetOut(so);
            Console.SetError(se);
            try
            {
                int exit = Ferrum.Sample.Program.Main(args);
                return (exit, so.ToString(), se.ToString());
            }
            finally
            {
                Console.SetOut(o);
                Console.SetError(e);
            }
        }
    }

    /// <summary>A one-block qwen3moe GGUF (hidden 64, 4 experts of 32, top-2, f32) and a 2-token input for it.</summary>
    public static (string Model, string Input) SmallModel(string dir)
    {
        const int h = 64, f = 32, e = 4;
        var rng = new Random(5);
        byte[] Floats(int n) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray().AsSpan()).ToArray();
        var model = Path.Combine(dir, "m.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "qwen3moe")
            .AddMetadata("qwen3moe.block_count", 1u)
            .AddMetadata("qwen3moe.embedding_length", (uint)h)
            .AddMetadata("qwen3moe.expert_feed_forward_length", (uint)f)
            .AddMetadata("qwen3moe.expert_count", (uint)e)
            .AddMetadata("qwen3moe.expert_used_count", 2u)
            .AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [h, e], Floats(h * e))
            .AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.F32, [h, f, e], Floats(h * f * e))
            .AddTensor("blk.0.ffn_up_exps.weight", GgmlType.F32, [h, f, e], Floats(h * f * e))
            .AddTensor("blk.0.ffn_down_exps.weight", GgmlType.F32, [f, h, e], Floats(f * h * e))
            .WriteTo(model);
        var input = Path.Combine(dir, "in.f32");
        File.WriteAllBytes(input, Floats(2 * h));
        return (model, input);
    }
}

/// <summary>
/// Issue 16's CLI findings: <c>--threads 100000</c> aborted the process, <c>inspect /tmp</c> said "access denied",
/// <c>moe --output MODEL</c> destroyed the model and <c>--output DIR</c> failed only after the compute. Each is now one
/// line on stderr and exit 1, before any work.
/// </summary>
[Collection(nameof(InProcessCli))]
public sealed class ArgumentRulesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-args-").FullName;
    private readonly string _model, _input;

    public ArgumentRulesTests() => (_model, _input) = InProcessCli.SmallModel(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void OneLineError(string[] args, string expected)
    {
        var (exit, _, err) = InProcessCli.Run(args);
        Assert.Equal(1, exit);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"ferrum {string.Join(' ', args)}: expected one line, got:\n{err}");
        Assert.StartsWith("ferrum: error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }

    [Fact]
    public void Threads_100000_is_a_one_line_error_on_every_command()
    {
        var o = Path.Combine(_dir, "o.f32");
        var cases = new[]
        {
            new[] { "--threads", "100000" },
            ["demo", "--threads", "100000"],
            ["run", "--model", _model, "--threads", "100000"],
            ["moe", _model, "--layer", "0", "--input", _input, "--output", o, "--threads", "100000"],
            ["bench", "--model", _model, "--threads", "100000"],
            ["generate", "--model", _model, "--prompt", "hi", "--threads", "100000"],
        };
        foreach (var args in cases)
        {
            OneLineError(args, "--threads 100000 must be in 1..1024");
            OneLineError(args[..^1].Append("0").ToArray(), "--threads 0 must be in 1..1024");
            OneLineError(args[..^1].Append("-4").ToArray(), "--threads -4 must be in 1..1024");
        }

        Assert.False(File.Exists(o));
    }

    [Fact]
    public void Inspect_of_a_directory_says_it_is_a_directory()
    {
        OneLineError(["inspect", _dir], "is a directory");
        OneLineError(["dequant", _dir, "blk.0.ffn_gate_inp.weight"], "is a directory");
    }

    [Fact]
    public void Moe_refuses_to_overwrite_its_model_or_input_and_a_directory_output_before_computing()
    {
        var before = File.ReadAllBytes(_model);
        OneLineError(["moe", _model, "--layer", "0", "--input", _input, "--output", _model], "same file");
        OneLineError(["moe", _model, "--layer", "0", "--input", _input, "--output", Path.Combine(_dir, ".", "m.gguf")], "same file");
        OneLineError(["moe", _model, "--layer", "0", "--input", _input, "--output", _input], "same file");
        OneLineError(["moe", _model, "--layer", "0", "--input", _input, "--output", _dir], "is a directory");
        OneLineError(["moe", _model, "--layer", "0", "--input", _input, "--output", Path.Combine(_dir, "no", "such", "o.f32")], "does not exist");
        OneLineError(["moe", _model, "--layer", "-1", "--input", _input, "--output", Path.Combine(_dir, "o.f32")], "--layer -1 must be at least 0");
        Assert.Equal(before, File.ReadAllBytes(_model));

        // The same command with a proper output works.
        var (exit, _, err) = InProcessCli.Run("moe", _model, "--layer", "0", "--input", _input, "--output", Path.Combine(_dir, "o.f32"), "--threads", "1");
        Assert.True(exit == 0, err);
        Assert.Equal(new FileInfo(_input).Length, new FileInfo(Path.Combine(_dir, "o.f32")).Length);
    }

    [Fact]
    public void No_mmap_reads_the_model_into_memory_and_gives_the_same_output()
    {
        var mapped = Path.Combine(_dir, "mapped.f32");
        var copied = Path.Combine(_dir, "copied.f32");
        var a = InProcessCli.Run("moe", _model, "--layer", "0", "--input", _input, "--output", mapped, "--threads", "1");
        var b = InProcessCli.Run("moe", _model, "--layer", "0", "--input", _input, "--output", copied, "--threads", "1", "--no-mmap");
        Assert.True(a.Exit == 0 && b.Exit == 0, a.Err + b.Err);
        Assert.Equal(File.ReadAllBytes(mapped), File.ReadAllBytes(copied));
        var inspect = InProcessCli.Run("--no-mmap", "inspect", _model, "--json");
        Assert.Equal(0, inspect.Exit);
    }

    [Fact]
    public void A_deepseek2_file_with_zero_groups_used_is_a_one_line_error_not_a_crash()
    {
        // Issue 16: expert_group_used_count = 0 made the group top-K write ids[-1] (AccessViolationException).
        var path = Path.Combine(_dir, "ds.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "deepseek2")
            .AddMetadata("deepseek2.block_count", 1u)
            .AddMetadata("deepseek2.embedding_length", 64u)
            .AddMetadata("deepseek2.feed_forward_length", 64u)
            .AddMetadata("deepseek2.expert_feed_forward_length", 32u)
            .AddMetadata("deepseek2.expert_count", 4u)
            .AddMetadata("deepseek2.expert_used_count", 2u)
            .AddMetadata("deepseek2.expert_shared_count", 1u)
            .AddMetadata("deepseek2.expert_group_count", 2u)
            .AddMetadata("deepseek2.expert_group_used_count", 0u)
            .AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [64, 4], new byte[64 * 4 * 4])
            .WriteTo(path);
        OneLineError(["moe", path, "--layer", "0", "--input", _input, "--output", Path.Combine(_dir, "ds.f32"), "--threads", "1"], "expert groups used 0 must be in 1..2");
    }

    [Fact]
    public void Sampling_and_count_options_reject_nonsense()
    {
        OneLineError(["generate", "--model", _model, "--prompt", "hi", "--temp", "-1"], "--temp -1");
        OneLineError(["generate", "--model", _model, "--prompt", "hi", "--temp", "NaN"], "--temp NaN");
        OneLineError(["generate", "--model", _model, "--prompt", "hi", "--top-p", "1.5"], "--top-p 1.5");
        OneLineError(["generate", "--model", _model, "--prompt", "hi", "--ctx-size", "0"], "--ctx-size 0");
        OneLineError(["generate", "--model", _model, "--prompt", "hi", "-n", "-3"], "-n -3");
        OneLineError(["bench", "--model", _model, "--tokens", "1,-8"], "--tokens: '-8' is not a token count");
        OneLineError(["run", "--model", _model, "--prefill", "0"], "--prefill 0");
        OneLineError(["kernels", "--emit", _model], "is a file; give a folder");
    }
}
