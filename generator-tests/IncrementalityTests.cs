extern alias Generators;

using Ferrum.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TrackingNames = Generators::Ferrum.Generators.Constants.TrackingNames;

namespace Ferrum.Generators.Tests;

/// <summary>
/// Proves the pipeline caches: runs the generator twice with step tracking on and reads every tracked step's
/// run reasons (New, Unchanged, Modified, Cached, Removed).
/// </summary>
public class IncrementalityTests
{
    private static readonly string[] AllSteps =
    [
        TrackingNames.ManifestFiles, TrackingNames.Parse, TrackingNames.Manifest, TrackingNames.Diagnostics,
        TrackingNames.Merged, TrackingNames.MergeDiagnostics, TrackingNames.Models, TrackingNames.Kernels,
        TrackingNames.UnsafeDisabled, TrackingNames.KernelOutputs,
    ];

    [Fact]
    public void UnrelatedCSharpEditRerunsNothing()
    {
        var text = new InMemoryAdditionalText(GeneratorHarness.ManifestPath, TestManifests.AllFormats);
        var compilation = GeneratorHarness.CreateCompilation("internal static class A { }", "internal static class B { }");
        var driver = GeneratorHarness.CreateDriver(true, text).RunGenerators(compilation);

        var edited = compilation.ReplaceSyntaxTree(
            compilation.SyntaxTrees.First(),
            CSharpSyntaxTree.ParseText("internal static class A { public static int X => 1; }", GeneratorHarness.ParseOptions));
        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        // No step reads the compilation, so every step and every output is Cached.
        foreach (var step in AllSteps)
        {
            AssertReasons(result, step, IncrementalStepRunReason.Cached);
        }

        AssertOutputsReasons(result, IncrementalStepRunReason.Cached);
    }

    [Fact]
    public void CommentOnlyManifestEditLeavesOutputsCached()
    {
        // A warning (unknown key) gives the diagnostics branch something whose position moves with the edit.
        var yaml = TestManifests.AllFormats.Replace("formats: [q8_0, q4_K]", "formats: [q8_0, q4_K]\ncolour: blue", StringComparison.Ordinal);
        var text = new InMemoryAdditionalText(GeneratorHarness.ManifestPath, yaml);
        var compilation = GeneratorHarness.CreateCompilation("internal static class A { }");
        var driver = GeneratorHarness.CreateDriver(true, text).RunGenerators(compilation);
        var before = driver.GetRunResult();

        var commented = new InMemoryAdditionalText(GeneratorHarness.ManifestPath, "# Comment added at the top: every line moves down.\n" + yaml.Replace("models:", "models:   # the shapes", StringComparison.Ordinal));
        driver = driver.ReplaceAdditionalText(text, commented).RunGenerators(compilation);
        var run = driver.GetRunResult();
        var result = run.Results.Single();

        AssertReasons(result, TrackingNames.Parse, IncrementalStepRunReason.Modified);
        AssertReasons(result, TrackingNames.Diagnostics, IncrementalStepRunReason.Modified);
        AssertReasons(result, TrackingNames.Manifest, IncrementalStepRunReason.Unchanged);
        foreach (var step in new[] { TrackingNames.Merged, TrackingNames.MergeDiagnostics, TrackingNames.Models, TrackingNames.Kernels, TrackingNames.KernelOutputs })
        {
            AssertReasons(result, step, IncrementalStepRunReason.Cached);
        }

        // Every source output is Cached; only the diagnostics output reports again, one line lower.
        var sourceOutputs = result.TrackedOutputSteps["SourceOutput"];
        Assert.Single(sourceOutputs, s => s.Outputs.Any(o => o.Reason != IncrementalStepRunReason.Cached));
        Assert.Equal(GeneratorHarness.Sources(before), GeneratorHarness.Sources(run));
        Assert.Equal(
            before.Diagnostics.Single().Location.GetLineSpan().StartLinePosition.Line + 1,
            run.Diagnostics.Single().Location.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void AddingAModelEmitsOnlyThatModelsFiles()
    {
        var text = new InMemoryAdditionalText(GeneratorHarness.ManifestPath, TestManifests.AllFormats);
        var compilation = GeneratorHarness.CreateCompilation("internal static class A { }");
        var driver = GeneratorHarness.CreateDriver(true, text).RunGenerators(compilation);
        var before = GeneratorHarness.Sources(driver.GetRunResult()).ToDictionary(s => s.HintName, s => s.Text);

        var added = new InMemoryAdditionalText(GeneratorHarness.ManifestPath, TestManifests.AllFormats + "\n" + TestManifests.ExtraModel);
        driver = driver.ReplaceAdditionalText(text, added).RunGenerators(compilation);
        var run = driver.GetRunResult();
        Assert.Empty(run.Diagnostics);
        var after = GeneratorHarness.Sources(run).ToDictionary(s => s.HintName, s => s.Text);

        // The new files are the model type and its kernels (one shape per role direction, three targets)...
        string[] expectedNew =
        [
            "Ferrum.Models.Extra_Moe.g.cs",
            "Ferrum.Kernels.Cpu.Q8_0.128x256.B1.g.cs", "Ferrum.Kernels.Cpu.Q8_0.256x128.B1.g.cs",
            "Ferrum.Kernels.OpenCL.Q8_0.128x256.B1.g.cs", "Ferrum.Kernels.OpenCL.Q8_0.256x128.B1.g.cs",
            "Ferrum.Kernels.Metal.Q8_0.128x256.B1.g.cs", "Ferrum.Kernels.Metal.Q8_0.256x128.B1.g.cs",
        ];
        Assert.Equal(expectedNew.Order(StringComparer.Ordinal), after.Keys.Except(before.Keys).Order(StringComparer.Ordinal));
        Assert.All(before, kv => Assert.Equal(kv.Value, after[kv.Key]));

        // ...and only they ran: every other model and kernel item is Cached, the new ones New.
        var result = run.Results.Single();
        AssertStepCounts(result, TrackingNames.Models, unchanged: 4, added: 1);
        AssertStepCounts(result, TrackingNames.Kernels, unchanged: before.Count - 4, added: expectedNew.Length - 1);
        var outputs = result.TrackedOutputSteps["SourceOutput"].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(expectedNew.Length, outputs.Count(o => o.Reason == IncrementalStepRunReason.New));
        Assert.DoesNotContain(outputs, o => o.Reason == IncrementalStepRunReason.Modified);
    }

    private static void AssertReasons(GeneratorRunResult result, string step, IncrementalStepRunReason expected)
    {
        Assert.True(result.TrackedSteps.TryGetValue(step, out var steps), $"step {step} was not tracked");
        var reasons = steps.SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(reasons);
        Assert.True(reasons.All(r => r == expected), $"step {step}: expected all {expected}, got {string.Join(", ", reasons)}");
    }

    private static void AssertOutputsReasons(GeneratorRunResult result, IncrementalStepRunReason expected)
    {
        var reasons = result.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(reasons);
        Assert.True(reasons.All(r => r == expected), $"outputs: expected all {expected}, got {string.Join(", ", reasons)}");
    }

    private static void AssertStepCounts(GeneratorRunResult result, string step, int unchanged, int added)
    {
        var reasons = result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        // An item equal to the previous run's is Unchanged (its input changed) or Cached (it did not).
        Assert.Equal(unchanged, reasons.Count(r => r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged));
        Assert.Equal(added, reasons.Count(r => r == IncrementalStepRunReason.New));
        Assert.Equal(unchanged + added, reasons.Count);
    }
}
