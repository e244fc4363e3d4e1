extern alias Generators;

using System.Reflection;
using System.Runtime.CompilerServices;
using Ferrum.Generators.Tests.Infrastructure;
using Ferrum.Kernels;
using Ferrum.Quantization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using FerrumGenerator = Generators::Ferrum.Generators.FerrumGenerator;

namespace Ferrum.Generators.Tests;

/// <summary>Generated code compiles against Ferrum.Runtime with nullable on and warnings as errors, and the generated kernels run.</summary>
public class CompileTests
{
    // TestManifests.AllFormats: the OpenCL and Metal printers cover every format, so each gets 2 generic + 4
    // (float-moe) + 5 formats × 2 batches (legacy-moe) + 5 (kquant-moe) + 4 (nonlinear-moe) sources.
    private const int OpenClSources = 2 + 4 + 10 + 5 + 4;
    private const int MetalSources = 2 + 4 + 10 + 5 + 4;

    [Fact]
    public void RepositoryManifestCompiles() => AssertCompiles(TestManifests.Repository);

    [Fact]
    public void AllFormatsManifestCompiles() => AssertCompiles(TestManifests.AllFormats);

    [Fact]
    public void FourModelsThreeFormatsCompiles() => AssertCompiles(TestManifests.Sized(4));

    [Fact]
    public void ModelTypesAndGpuSourcesNeedNoUnsafeCode()
    {
        // Only CPU kernels take pointers; a project without AllowUnsafeBlocks can still use models and GPU sources.
        var compilation = GeneratorHarness.CreateCompilation(allowUnsafe: false, "internal static class Placeholder { }");
        var driver = GeneratorHarness.CreateDriver(false, new InMemoryAdditionalText(GeneratorHarness.ManifestPath, TestManifests.AllFormats.Replace("targets: [cpu, opencl, metal]", "targets: [opencl, metal]", StringComparison.Ordinal)));
        driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        Assert.Empty(generatorDiagnostics);
        Assert.Equal(4 + OpenClSources + MetalSources, output.SyntaxTrees.Count() - 1);
        Assert.Empty(output.GetDiagnostics());
    }

    [Fact]
    public void CpuKernelsWithoutUnsafeCodeReportFER0013Once()
    {
        // build_property.AllowUnsafeBlocks=false, as build/Ferrum.props makes it visible for a project that sets it.
        var compilation = GeneratorHarness.CreateCompilation(allowUnsafe: false, "internal static class Placeholder { }");
        var options = new BuildProperties(new Dictionary<string, string> { ["build_property.AllowUnsafeBlocks"] = "False" });
        var driver = CSharpGeneratorDriver.Create(
            [new FerrumGenerator().AsSourceGenerator()],
            [new InMemoryAdditionalText(GeneratorHarness.ManifestPath, TestManifests.AllFormats)],
            GeneratorHarness.ParseOptions,
            options);
        driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var d = Assert.Single(diagnostics);
        Assert.Equal("FER0013", d.Id);
        Assert.Equal(GeneratorHarness.ManifestPath, d.Location.GetLineSpan().Path);
        Assert.DoesNotContain(output.SyntaxTrees, t => t.FilePath.Contains(".Cpu.", StringComparison.Ordinal));
        Assert.Equal(4 + OpenClSources + MetalSources, output.SyntaxTrees.Count() - 1);
        Assert.Empty(output.GetDiagnostics());
    }

    [Fact]
    public void ModelsNamedLikeTheGeneratedAliasesCompile()
    {
        // The generated files refer to runtime namespaces through aliases used with "::", which user types cannot shadow.
        var models = string.Concat(new[] { "moe", "gguf", "quant", "formats", "kernels", "ferrum", "system" }.Select(name => $$"""
              - name: {{name}}
                arch: qwen3moe
                hidden: 64
                expert_ffn: 32
                experts: 4
                top_k: 2
                roles: { gate: [q8_0], up: [q8_0, f16], down: [q8_0] }

            """));
        AssertCompiles("targets: [cpu, opencl]\nformats: [q8_0]\nmodels:\n" + models);
    }

    [Fact]
    public unsafe void GeneratedCpuKernelsRegisterAndComputeQ8_0MatVec()
    {
        // Rows 32 of 64 elements (gate/up) and 64 of 32 (down); batches 1 and 3; plus the generic kernel.
        var assembly = CompileAndLoad("""
            targets: [cpu, opencl, metal]
            formats: [q8_0]
            models:
              - name: kernel-check
                arch: qwen3moe
                hidden: 64
                expert_ffn: 32
                experts: 2
                top_k: 1
                roles: { gate: [q8_0], up: [q8_0], down: [q8_0] }
                batches: [1, 3]
            """);
        RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);

        var specialized = KernelRegistry.Get(GgmlType.Q8_0, 32, 64, 3);
        Assert.True(specialized.IsSpecialized);
        Assert.Equal("q8_0/32x64/b3", specialized.Name);
        var generic = KernelRegistry.Get(GgmlType.Q8_0, 32, 64, 5);
        Assert.False(generic.IsSpecialized);
        Assert.Equal("q8_0/generic", generic.Name);

        var random = new Random(7);
        foreach (var (entry, rows, length, batch) in new[] { (specialized, 32, 64, 3), (KernelRegistry.Get(GgmlType.Q8_0, 64, 32, 1), 64, 32, 1), (generic, 32, 64, 5), (generic, 7, 96, 2) })
        {
            var (weights, expected, input) = Q8_0Reference.Case(random, rows, length, batch);
            var output = new float[rows * batch];
            fixed (byte* w = weights)
            fixed (float* x = input)
            fixed (float* y = output)
            {
                entry.Kernel(w, length / 32 * 34, rows, length, batch, x, y);
            }

            for (var i = 0; i < output.Length; i++)
            {
                Assert.True(Math.Abs(output[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"{entry.Name} {rows}x{length} b{batch}: output {i} is {output[i]}, expected {expected[i]}");
            }
        }

        // A specialized kernel refuses another shape instead of reading out of bounds.
        var wrong = Assert.Throws<ArgumentException>(() =>
        {
            var w = new byte[34 * 2];
            var x = new float[64];
            var y = new float[32];
            fixed (byte* pw = w)
            fixed (float* px = x)
            fixed (float* py = y)
            {
                specialized.Kernel(pw, 68, 1, 64, 3, px, py);
            }
        });
        Assert.Contains("specialized for 32x64, batch 3", wrong.Message, StringComparison.Ordinal);

        // The GPU sources are in the catalog with the shape baked in.
        var cl = KernelSourceCatalog.Find(KernelTarget.OpenCL, new KernelKey(GgmlType.Q8_0, 64, 32, 3));
        Assert.NotNull(cl);
        Assert.Equal("ferrum_q8_0_64x32_b3", cl.EntryPoint);
        Assert.Contains("#define D_ROWS 64\n", cl.Text, StringComparison.Ordinal);
        Assert.Contains("__kernel void ferrum_q8_0_64x32_b3(", cl.Text, StringComparison.Ordinal);
        var metal = KernelSourceCatalog.Find(KernelTarget.Metal, new KernelKey(GgmlType.Q8_0, 5, 5, 5));
        Assert.NotNull(metal);
        Assert.True(metal.Key.IsGeneric);
        Assert.Equal("metal.q8_0.generic.metal", metal.FileName);
    }

    private static void AssertCompiles(string yaml)
    {
        var (result, diagnostics) = GeneratorHarness.Run(yaml);
        Assert.Empty(result.Diagnostics);
        Assert.NotEmpty(result.GeneratedTrees);
        Assert.Empty(diagnostics);
    }

    /// <summary>MSBuild properties as the compiler hands them to generators.</summary>
    private sealed class BuildProperties(Dictionary<string, string> values) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Options(values);

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Options([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => new Options([]);

        private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
        }
    }

    internal static Assembly CompileAndLoad(string yaml)
    {
        var (result, output) = GeneratorHarness.RunAndCompile(new InMemoryAdditionalText(GeneratorHarness.ManifestPath, yaml));
        Assert.Empty(result.Diagnostics);
        using var stream = new MemoryStream();
        var emit = output.WithAssemblyName("KernelCheck" + Guid.NewGuid().ToString("N")).Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        return Assembly.Load(stream.ToArray());
    }
}
