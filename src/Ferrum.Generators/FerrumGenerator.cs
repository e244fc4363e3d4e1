using System.Collections.Immutable;
using System.Text;
using Ferrum.Generators.Manifest;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Ferrum.Generators;

/// <summary>
/// Reads kernels.yaml (and *.kernels.yaml) from AdditionalFiles and emits one typed model class per declared model.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class FerrumGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var manifests = context.AdditionalTextsProvider
            .Where(static t => ManifestParser.IsManifestPath(t.Path))
            .Select(static (t, ct) => ManifestParser.Parse(t.Path, t.GetText(ct)?.ToString() ?? string.Empty))
            .WithTrackingName("Manifest");

        context.RegisterSourceOutput(manifests, static (spc, manifest) =>
        {
            foreach (var d in manifest.Diagnostics)
            {
                spc.ReportDiagnostic(d.ToDiagnostic());
            }

            foreach (var model in manifest.Models)
            {
                spc.AddSource($"Ferrum.Models.{model.TypeName}.g.cs", SourceText.From(ModelEmitter.Emit(model), Encoding.UTF8));
            }
        });
    }
}
