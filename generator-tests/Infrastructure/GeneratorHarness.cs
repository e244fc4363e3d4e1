extern alias Generators;

using System.Collections.Immutable;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using FerrumGenerator = Generators::Ferrum.Generators.FerrumGenerator;

namespace Ferrum.Generators.Tests.Infrastructure;

/// <summary>An in-memory AdditionalText, as the compiler hands kernels.yaml to the generator.</summary>
public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
}

/// <summary>Runs the generator over a compilation that references Ferrum.Runtime, as a user project would.</summary>
public static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    public static CSharpCompilation CreateCompilation(params string[] sources) =>
        CSharpCompilation.Create(
            "Consumer",
            sources.Select(s => CSharpSyntaxTree.ParseText(s, ParseOptions)),
            Net100.References.All.Append(MetadataReference.CreateFromFile(typeof(Ferrum.Quantization.GgmlTypeInfo).Assembly.Location)),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true, generalDiagnosticOption: ReportDiagnostic.Error));

    public static GeneratorDriver CreateDriver(bool trackSteps = false, params AdditionalText[] texts) =>
        CSharpGeneratorDriver.Create(
            [new FerrumGenerator().AsSourceGenerator()],
            texts,
            ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs once; returns the driver result and the output compilation's diagnostics.</summary>
    public static (GeneratorDriverRunResult Result, ImmutableArray<Diagnostic> CompileDiagnostics) Run(string manifestYaml, string path = "/project/kernels.yaml")
    {
        var compilation = CreateCompilation("class Placeholder {}");
        var driver = CreateDriver(false, new InMemoryAdditionalText(path, manifestYaml));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        return (driver.GetRunResult(), output.GetDiagnostics());
    }
}
