extern alias Generators;

using System.Text;
using Basic.Reference.Assemblies;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using FerrumGenerator = Generators::Ferrum.Generators.FerrumGenerator;

namespace Ferrum.Benchmarks.Generator;

/// <summary>
/// What the Ferrum generator adds to a build, for a manifest of 4 models × 3 formats on 3 targets:
/// a cold run (first build / IDE load), incremental runs after a comment edit of kernels.yaml and after an
/// unrelated C# edit (what every keystroke costs in the IDE), and compiling the generated code to IL.
/// Run: <c>dotnet run -c Release --project benchmarks -- --filter *GeneratorBuildCost*</c>.
/// </summary>
[MemoryDiagnoser]
public class GeneratorBuildCostBenchmarks
{
    private const string Path = "/project/kernels.yaml";
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private CSharpCompilation compilation = null!;
    private CSharpCompilation editedCompilation = null!;
    private ManifestText manifest = null!;
    private ManifestText commented = null!;
    private GeneratorDriver warmDriver = null!;
    private Compilation generated = null!;

    [GlobalSetup]
    public void Setup()
    {
        manifest = new ManifestText(Path, FourModelsThreeFormats());
        commented = new ManifestText(Path, "# a comment moves every line\n" + manifest.Text);
        compilation = CSharpCompilation.Create(
            "Consumer",
            [CSharpSyntaxTree.ParseText("internal static class A { }", ParseOptions)],
            [.. Net100.References.All, MetadataReference.CreateFromFile(typeof(Ferrum.Quantization.GgmlTypeInfo).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
        editedCompilation = compilation.ReplaceSyntaxTree(
            compilation.SyntaxTrees[0], CSharpSyntaxTree.ParseText("internal static class A { public static int X => 1; }", ParseOptions));
        warmDriver = CreateDriver(manifest).RunGeneratorsAndUpdateCompilation(compilation, out generated, out _);
        var files = warmDriver.GetRunResult().GeneratedTrees.Length;
        var errors = generated.GetDiagnostics().Count(d => d.Severity == DiagnosticSeverity.Error);
        if (files == 0 || errors != 0)
        {
            throw new InvalidOperationException($"setup: {files} generated files, {errors} compile errors");
        }

        Console.WriteLine($"// 4 models × 3 formats: {files} generated files, {warmDriver.GetRunResult().GeneratedTrees.Sum(t => t.Length)} characters");
    }

    /// <summary>First run: parse, plan and print everything.</summary>
    [Benchmark(Baseline = true)]
    public GeneratorDriver ColdRun() => CreateDriver(manifest).RunGenerators(compilation);

    /// <summary>kernels.yaml edited in a comment: parse re-runs, every output is cached.</summary>
    [Benchmark]
    public GeneratorDriver CommentEditRun() => warmDriver.ReplaceAdditionalText(manifest, commented).RunGenerators(compilation);

    /// <summary>An unrelated C# file edited: no step reads the compilation, so everything is cached.</summary>
    [Benchmark]
    public GeneratorDriver UnrelatedCSharpEditRun() => warmDriver.RunGenerators(editedCompilation);

    /// <summary>Binding and emitting the generated code (the compiler's share of the cost).</summary>
    [Benchmark]
    public long CompileGeneratedCode()
    {
        using var stream = new MemoryStream();
        var result = generated.Emit(stream);
        return result.Success ? stream.Length : throw new InvalidOperationException("emit failed");
    }

    /// <summary>The same compilation without the generator's output, for comparison with <see cref="CompileGeneratedCode"/>.</summary>
    [Benchmark]
    public long CompileWithoutGenerator()
    {
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        return result.Success ? stream.Length : throw new InvalidOperationException("emit failed");
    }

    private static GeneratorDriver CreateDriver(AdditionalText text) =>
        CSharpGeneratorDriver.Create([new FerrumGenerator().AsSourceGenerator()], [text], ParseOptions);

    /// <summary>4 models, each with q4_K, q6_K and q8_0 across its roles and batches 1 and 8 (same as the generator tests' Sized(4)).</summary>
    private static string FourModelsThreeFormats()
    {
        var s = new StringBuilder("targets: [cpu, opencl, metal]\nformats: [q4_K, q6_K, q8_0]\nmodels:\n");
        for (var i = 0; i < 4; i++)
        {
            var hidden = 1024 * (i + 1);
            s.Append($"  - name: model-{i}\n    arch: qwen3moe\n    hidden: {hidden}\n    expert_ffn: {hidden / 2}\n    experts: 64\n    top_k: 8\n");
            s.Append("    roles: { gate: [q4_K, q8_0], up: [q4_K, q8_0], down: [q6_K, q8_0] }\n    batches: [1, 8]\n");
        }

        return s.ToString();
    }

    private sealed class ManifestText(string path, string text) : AdditionalText
    {
        public override string Path { get; } = path;

        public string Text { get; } = text;

        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(Text);
    }
}
