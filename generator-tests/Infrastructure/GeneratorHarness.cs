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

    public string Text { get; } = text;

    public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(Text);
}

/// <summary>Runs the generator over a compilation that references Ferrum.Runtime, as a user project would.</summary>
public static class GeneratorHarness
{
    /// <summary>The fake path every test manifest lives at (no machine paths in snapshots).</summary>
    public const string ManifestPath = "/project/kernels.yaml";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        [.. Net100.References.All, MetadataReference.CreateFromFile(typeof(Ferrum.Quantization.GgmlTypeInfo).Assembly.Location)]);

    /// <summary>A user library: nullable on, unsafe allowed, every warning an error.</summary>
    public static CSharpCompilation CreateCompilation(params string[] sources) => CreateCompilation(allowUnsafe: true, sources);

    /// <summary>A user library as above, with or without unsafe code allowed.</summary>
    public static CSharpCompilation CreateCompilation(bool allowUnsafe, params string[] sources) =>
        CSharpCompilation.Create(
            "Consumer",
            sources.Select(s => CSharpSyntaxTree.ParseText(s, ParseOptions)),
            References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                allowUnsafe: allowUnsafe,
                generalDiagnosticOption: ReportDiagnostic.Error));

    public static GeneratorDriver CreateDriver(bool trackSteps = false, params AdditionalText[] texts) =>
        CSharpGeneratorDriver.Create(
            [new FerrumGenerator().AsSourceGenerator()],
            texts,
            ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs once; returns the driver result and the output compilation's diagnostics.</summary>
    public static (GeneratorDriverRunResult Result, ImmutableArray<Diagnostic> CompileDiagnostics) Run(string manifestYaml, string path = ManifestPath)
    {
        var (result, output) = RunAndCompile(new InMemoryAdditionalText(path, manifestYaml));
        return (result, output.GetDiagnostics());
    }

    /// <summary>Runs once over the given manifests; returns the run result and the compilation with the generated code.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output) RunAndCompile(params AdditionalText[] texts)
    {
        var compilation = CreateCompilation("internal static class Placeholder { }");
        var driver = CreateDriver(false, texts);
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        return (driver.GetRunResult(), output);
    }

    /// <summary>Generated files as (hint name, text), ordered by hint name.</summary>
    public static IReadOnlyList<(string HintName, string Text)> Sources(GeneratorDriverRunResult result) =>
        result.Results.SelectMany(r => r.GeneratedSources)
            .OrderBy(s => s.HintName, StringComparer.Ordinal)
            .Select(s => (s.HintName, s.SourceText.ToString()))
            .ToList();

    /// <summary>One line per diagnostic: "FER0004 Error path(5,12)-(5,16): message" (default severity: the test compilation turns warnings into errors), ordered by position.</summary>
    public static string Render(IEnumerable<Diagnostic> diagnostics) =>
        string.Concat(diagnostics
            .OrderBy(d => d.Location.GetLineSpan().StartLinePosition)
            .ThenBy(d => d.Id, StringComparer.Ordinal)
            .Select(d =>
            {
                var span = d.Location.GetLineSpan();
                var start = span.StartLinePosition;
                var end = span.EndLinePosition;
                return $"{d.Id} {d.DefaultSeverity} {span.Path}({start.Line + 1},{start.Character + 1})-({end.Line + 1},{end.Character + 1}): {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}\n";
            }));
}
