using Ferrum.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace Ferrum.Generators.Tests;

/// <summary>The repository's own kernels.yaml generates code that compiles cleanly against Ferrum.Runtime.</summary>
public class RepositoryManifestTests
{
    [Fact]
    public void RepositoryManifestCompiles()
    {
        var yaml = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "kernels.yaml"));
        var (result, diagnostics) = GeneratorHarness.Run(yaml);
        Assert.Empty(result.Diagnostics);
        Assert.Contains(result.GeneratedTrees, t => t.FilePath.Contains("Qwen3_30B_A3B", StringComparison.Ordinal));
        Assert.Empty(diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }
}
