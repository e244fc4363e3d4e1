using Ferrum.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace Ferrum.Generators.Tests;

/// <summary>
/// One manifest per diagnostic: the expected id is reported at the offending YAML node (line and column asserted),
/// nothing is generated for a broken model, and the full diagnostic text is snapshotted.
/// </summary>
public class DiagnosticTests
{
    private const string ValidModel = """
          - name: ok-moe
            arch: qwen3moe
            hidden: 512
            expert_ffn: 256
            experts: 8
            top_k: 2
            roles: { gate: [q4_K], up: [q4_K], down: [q6_K] }
        """;

    [Fact]
    public void FER0001_YamlSyntaxError() => Check(nameof(FER0001_YamlSyntaxError), "FER0001", 3, """
        models:
          - name: broken
            roles: { gate: [q4_K }
        """);

    [Fact]
    public void FER0001_DuplicateKey() => Check(nameof(FER0001_DuplicateKey), "FER0001", 2, """
        targets: [cpu]
        targets: [metal]
        models: []
        """);

    [Fact]
    public void FER0002_UnknownKey() => Check(nameof(FER0002_UnknownKey), "FER0002", 2, """
        targets: [cpu]
        colour: red
        models:
        """ + "\n" + ValidModel.Replace("    top_k: 2", "    top_k: 2\n    heads: 32", StringComparison.Ordinal), expectOutput: true);

    [Fact]
    public void FER0003_MissingKey() => Check(nameof(FER0003_MissingKey), "FER0003", 3, """
        targets: [cpu]
        models:
          - name: no-top-k
            arch: qwen3moe
            hidden: 512
            expert_ffn: 256
            experts: 8
            roles: { gate: [q4_K], up: [q4_K] }
        """);

    [Fact]
    public void FER0004_UnknownFormat() => Check(nameof(FER0004_UnknownFormat), "FER0004", 2, """
        targets: [cpu]
        formats: [q4_K, q9_K, iq2_xxs]
        models: []
        """);

    [Fact]
    public void FER0005_UnknownTarget() => Check(nameof(FER0005_UnknownTarget), "FER0005", 1, """
        targets: [cpu, cuda]
        formats: [q8_0]
        models: []
        """);

    [Fact]
    public void FER0006_UnknownArch() => Check(nameof(FER0006_UnknownArch), "FER0006", 4, """
        models:
          - name: future-moe
            hidden: 512
            arch: gpt5moe
            expert_ffn: 256
            experts: 8
            top_k: 2
            roles: { gate: [q4_K], up: [q4_K], down: [q6_K] }
        """);

    [Fact]
    public void FER0007_RowLengthNotBlockMultiple() => Check(nameof(FER0007_RowLengthNotBlockMultiple), "FER0007", 8, """
        models:
          - name: odd-moe
            arch: qwen3moe
            hidden: 2000
            expert_ffn: 96
            experts: 8
            top_k: 2
            roles: { gate: [q8_0], up: [q4_K], down: [q8_0, q6_K] }
        """);

    [Fact]
    public void FER0008_TopKOutOfRange() => Check(nameof(FER0008_TopKOutOfRange), "FER0008", 7, """
        models:
          - name: greedy-moe
            arch: qwen3moe
            hidden: 512
            expert_ffn: 256
            experts: 8
            top_k: 9
            roles: { gate: [q4_K], up: [q4_K], down: [q6_K] }
          - name: lazy-moe
            arch: qwen3moe
            hidden: 512
            expert_ffn: 256
            experts: 8
            top_k: 0
            roles: { gate: [q4_K], up: [q4_K], down: [q6_K] }
        """);

    [Fact]
    public void FER0009_DuplicateModelName() => Check(nameof(FER0009_DuplicateModelName), "FER0009", 9, "models:\n" + ValidModel + "\n" + ValidModel.Replace("ok-moe", "ok_moe", StringComparison.Ordinal), expectOutput: true);

    [Fact]
    public void FER0009_DuplicateAcrossFiles()
    {
        var (result, _) = GeneratorHarness.RunAndCompile(
            new InMemoryAdditionalText(GeneratorHarness.ManifestPath, "models:\n" + ValidModel),
            new InMemoryAdditionalText("/project/more.kernels.yaml", "models:\n" + ValidModel));
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("FER0009", d.Id);
        Assert.Equal("/project/more.kernels.yaml", d.Location.GetLineSpan().Path);
        Assert.Contains("/project/kernels.yaml", d.GetMessage(), StringComparison.Ordinal);
        Assert.Single(GeneratorHarness.Sources(result), s => s.HintName == "Ferrum.Models.Ok_Moe.g.cs");
    }

    [Fact]
    public void FER0010_InvalidIdentifier() => Check(nameof(FER0010_InvalidIdentifier), "FER0010", 2, "models:\n" + ValidModel.Replace("ok-moe", "3d-moe", StringComparison.Ordinal) + "\n" + ValidModel.Replace("ok-moe", "hidden", StringComparison.Ordinal));

    [Fact]
    public void FER0011_EmptyManifest() => Check(nameof(FER0011_EmptyManifest), "FER0011", 1, "# only a comment\n");

    [Fact]
    public void FER0011_NoModelsNoFormats() => Check(nameof(FER0011_NoModelsNoFormats), "FER0011", 1, "targets: [cpu]\nmodels: []\n");

    [Fact]
    public void FER0012_InvalidValues() => Check(nameof(FER0012_InvalidValues), "FER0012", 4, """
        targets: cpu
        models:
          - name: bad-values
            hidden: abc
            arch: qwen3moe
            expert_ffn: -256
            experts: 99999999999
            top_k: [2]
            roles: [q4_K]
            batches: [0, 1]
        """);

    private static void Check(string name, string id, int line, string yaml, bool expectOutput = false)
    {
        var (result, compile) = GeneratorHarness.Run(yaml);
        Assert.Null(result.Results[0].Exception);
        Assert.Contains(result.Diagnostics, d => d.Id == id && d.Location.GetLineSpan().StartLinePosition.Line + 1 == line);
        Assert.All(result.Diagnostics, d =>
        {
            Assert.StartsWith("FER", d.Id, StringComparison.Ordinal);
            Assert.Equal(GeneratorHarness.ManifestPath, d.Location.GetLineSpan().Path);
        });

        // Broken models generate nothing; what is generated still compiles.
        var models = GeneratorHarness.Sources(result).Where(s => s.HintName.StartsWith("Ferrum.Models.", StringComparison.Ordinal)).ToList();
        Assert.Equal(expectOutput, models.Count > 0);
        Assert.Empty(compile.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        Snapshots.Verify(name, [("diagnostics.txt", GeneratorHarness.Render(result.Diagnostics))]);
    }
}
