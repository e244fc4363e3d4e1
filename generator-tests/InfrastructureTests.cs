using Ferrum.Generators.Tests.Infrastructure;

namespace Ferrum.Generators.Tests;

/// <summary>The golden-file helper itself: accept writes, a mismatch fails with a diff and a received file, stale snapshots fail.</summary>
public class InfrastructureTests
{
    [Fact]
    public void SnapshotMismatchWritesReceivedFileAndShowsDiff()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ferrum-snapshot-" + Guid.NewGuid().ToString("N"));
        try
        {
            Snapshots.VerifyIn(dir, "T", [("a.g.cs", "line 1\nline 2\nline 3\n"), ("b.txt", "b\n")], accept: true);
            Snapshots.VerifyIn(dir, "T", [("a.g.cs", "line 1\r\nline 2\r\nline 3\r\n"), ("b.txt", "b\n")], accept: false);

            var e = Assert.ThrowsAny<Exception>(() => Snapshots.VerifyIn(dir, "T", [("a.g.cs", "line 1\nline two\nline 3\n"), ("b.txt", "b\n")], accept: false));
            Assert.Contains("T/a.g.cs differs from its snapshot", e.Message, StringComparison.Ordinal);
            Assert.Contains("@@ line 2 @@", e.Message, StringComparison.Ordinal);
            Assert.Contains("- line 2\n", e.Message, StringComparison.Ordinal);
            Assert.Contains("+ line two\n", e.Message, StringComparison.Ordinal);
            Assert.Equal("line 1\nline two\nline 3\n", File.ReadAllText(Path.Combine(dir, "a.g.received.cs")));

            var stale = Assert.ThrowsAny<Exception>(() => Snapshots.VerifyIn(dir, "T", [("a.g.cs", "line 1\nline 2\nline 3\n")], accept: false));
            Assert.Contains("snapshot T/b.txt was not generated any more", stale.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir, "a.g.received.cs")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ManifestFilesAreKernelsYamlAndStarDotKernelsYaml()
    {
        const string Model = """
            models:
              - name: NAME
                arch: qwen3moe
                hidden: 64
                expert_ffn: 32
                experts: 4
                top_k: 2
                roles: { gate: [q8_0], up: [q8_0], down: [q8_0] }
            """;
        var (result, output) = GeneratorHarness.RunAndCompile(
            new InMemoryAdditionalText("/p/kernels.yaml", Model.Replace("NAME", "first", StringComparison.Ordinal)),
            new InMemoryAdditionalText("/p/sub/extra.kernels.yaml", Model.Replace("NAME", "second", StringComparison.Ordinal)),
            new InMemoryAdditionalText("/p/KERNELS.YAML", Model.Replace("NAME", "third", StringComparison.Ordinal)),
            new InMemoryAdditionalText("/p/notkernels.yaml", Model.Replace("NAME", "ignored-a", StringComparison.Ordinal)),
            new InMemoryAdditionalText("/p/kernels.yml", Model.Replace("NAME", "ignored-b", StringComparison.Ordinal)));
        Assert.Empty(result.Diagnostics);
        var models = GeneratorHarness.Sources(result).Select(s => s.HintName).Where(h => h.StartsWith("Ferrum.Models.", StringComparison.Ordinal));
        Assert.Equal(["Ferrum.Models.First.g.cs", "Ferrum.Models.Second.g.cs", "Ferrum.Models.Third.g.cs"], models);
        Assert.Empty(output.GetDiagnostics());
    }
}
