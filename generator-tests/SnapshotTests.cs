using Ferrum.Generators.Tests.Infrastructure;

namespace Ferrum.Generators.Tests;

/// <summary>Every generated file, compared with its golden copy under Snapshots/ (FERRUM_ACCEPT_SNAPSHOTS=1 accepts).</summary>
public class SnapshotTests
{
    [Fact]
    public void RepositoryManifest() => VerifyGenerated(nameof(RepositoryManifest), TestManifests.Repository);

    [Fact]
    public void AllFormatsAndRoles() => VerifyGenerated(nameof(AllFormatsAndRoles), TestManifests.AllFormats);

    [Fact]
    public void SingleCpuModel() => VerifyGenerated(nameof(SingleCpuModel), """
        targets: [cpu]
        models:
          - name: tiny
            arch: qwen3moe
            hidden: 64
            expert_ffn: 32
            experts: 4
            top_k: 2
            roles: { gate: [q8_0], up: [q8_0], down: [q8_0] }
        """);

    private static void VerifyGenerated(string name, string yaml)
    {
        var (result, _) = GeneratorHarness.Run(yaml);
        Assert.Empty(result.Diagnostics);
        var sources = GeneratorHarness.Sources(result);
        Assert.NotEmpty(sources);
        Snapshots.Verify(name, sources);
    }
}
