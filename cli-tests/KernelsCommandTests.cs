using Ferrum.Kernels;

namespace Ferrum.Cli.Tests;

/// <summary>
/// <c>ferrum kernels</c> lists, and <c>--emit</c> writes, exactly the kernels generated into the tool from the
/// repository's kernels.yaml; the expectation comes from the same generated code loaded into this process.
/// </summary>
public sealed class KernelsCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-kernels-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ListsEveryGeneratedKernel()
    {
        var (sources, cpu) = GeneratedInTool();
        var r = FerrumProcess.Run("kernels");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Target\tKernel\tEntry point\tFormat\tShape\tBatch\tLines", lines[0]);
        foreach (var s in sources)
        {
            Assert.Contains(lines, l => l.StartsWith($"{s.Target.ToString().ToLowerInvariant()}\t{s.Name}\t{s.EntryPoint}\t", StringComparison.Ordinal));
        }

        foreach (var k in cpu)
        {
            Assert.Contains(lines, l => l.StartsWith($"cpu\t{k.Name}\t", StringComparison.Ordinal));
        }

        Assert.Equal($"{cpu.Count} CPU kernels, {sources.Count} GPU kernel sources", lines[^1]);
        Assert.Equal(sources.Count + cpu.Count + 2, lines.Length);
    }

    [Fact]
    public void EmitWritesEachSourceToItsFile()
    {
        var (sources, _) = GeneratedInTool();
        var r = FerrumProcess.Run("kernels", "--emit", _dir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"{sources.Count} kernel sources written to {_dir}", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(sources.Select(s => s.FileName).Order(StringComparer.Ordinal), Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var s in sources)
        {
            Assert.Equal(s.Text, File.ReadAllText(Path.Combine(_dir, s.FileName)));
            Assert.EndsWith(s.Target == KernelTarget.OpenCL ? ".cl" : ".metal", s.FileName, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EmitIntoAFileFailsWithOneLine()
    {
        var file = Path.Combine(_dir, "not-a-directory");
        File.WriteAllText(file, "x");
        var r = FerrumProcess.Run("kernels", "--emit", file);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("ferrum: error: ", r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Runs the module initializers of the tool's assembly here, which register its generated kernels.</summary>
    private static (IReadOnlyList<KernelSource> Sources, IReadOnlyList<KernelEntry> Cpu) GeneratedInTool()
    {
        var tool = typeof(Ferrum.Sample.Program).Assembly;
        System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(tool.ManifestModule.ModuleHandle);
        var sources = KernelSourceCatalog.All;
        Assert.NotEmpty(sources);
        return (sources, KernelRegistry.All);
    }
}
