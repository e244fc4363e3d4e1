using Ferrum.Gguf;
using Ferrum.Sample.Demo;

namespace Ferrum.Cli.Tests;

/// <summary><c>ferrum run</c> on a small synthetic MoE file, and its errors.</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void RunsEveryLayerAndReportsDecodeAndPrefill()
    {
        var path = Path.Combine(_dir, "small.gguf");
        DemoModel.Build(path, new DemoShape(Layers: 3, Hidden: 256, ExpertFfn: 256, Experts: 8, TopK: 2));
        var r = FerrumProcess.Run("run", "--model", path, "--prefill", "8", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("3 MoE layers", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("decode", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("prefill 8", r.Stdout, StringComparison.Ordinal);

        // Layer 2 of 3 gets q6_K down projections, as llama.cpp's Q4_K_M recipe gives the last eighth more bits.
        Assert.Contains("q6_K", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void NonMoeFileIsOneLineError()
    {
        var path = Path.Combine(_dir, "dense.gguf");
        new GgufWriter().AddMetadata("general.architecture", "llama").AddMetadata("llama.block_count", 1u)
            .AddTensor("w", Quantization.GgmlType.F32, [4L], new byte[16]).WriteTo(path);
        var r = FerrumProcess.Run("run", "--model", path);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("ferrum: error:", r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("run", "--model", "/nonexistent/model.gguf")]
    [InlineData("run", "--model", "x.gguf", "--prefill", "0")]
    [InlineData("run", "--model", "x.gguf", "--threads", "0")]
    public void BadArgumentsAreOneLineErrors(params string[] args)
    {
        var r = FerrumProcess.Run(args);
        Assert.NotEqual(0, r.ExitCode);
        Assert.StartsWith("ferrum: error:", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }
}
