using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.CodeAnalysis;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ferrum.Generators.Manifest;

internal sealed record ModelInfo(string Name, string TypeName, string Arch, int Hidden, int ExpertFfn, int Experts, int TopK);

internal sealed record DiagnosticInfo(string Id, string Message, string Path, int Line, int Column, DiagnosticSeverity Severity)
{
    public Diagnostic ToDiagnostic()
    {
        var descriptor = new DiagnosticDescriptor(Id, "Ferrum manifest", "{0}", "Ferrum", Severity, isEnabledByDefault: true);
        var pos = new Microsoft.CodeAnalysis.Text.LinePosition(Math.Max(0, Line - 1), Math.Max(0, Column - 1));
        var location = Location.Create(Path, default, new Microsoft.CodeAnalysis.Text.LinePositionSpan(pos, pos));
        return Diagnostic.Create(descriptor, location, Message);
    }
}

internal sealed class ParsedManifest
{
    public List<ModelInfo> Models { get; } = new();

    public List<DiagnosticInfo> Diagnostics { get; } = new();
}

internal static class ManifestParser
{
    public static bool IsManifestPath(string path)
    {
        var name = Path.GetFileName(path);
        return string.Equals(name, "kernels.yaml", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".kernels.yaml", StringComparison.OrdinalIgnoreCase);
    }

    public static ParsedManifest Parse(string path, string text)
    {
        var result = new ParsedManifest();
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            {
                result.Diagnostics.Add(new DiagnosticInfo("FER0011", "kernels.yaml is empty", path, 1, 1, DiagnosticSeverity.Error));
                return result;
            }

            if (root.Children.TryGetValue(new YamlScalarNode("models"), out var modelsNode) && modelsNode is YamlSequenceNode models)
            {
                foreach (var node in models)
                {
                    if (node is YamlMappingNode m)
                    {
                        var name = Scalar(m, "name") ?? "model";
                        result.Models.Add(new ModelInfo(
                            name,
                            ToTypeName(name),
                            Scalar(m, "arch") ?? "qwen3moe",
                            Int(m, "hidden"),
                            Int(m, "expert_ffn"),
                            Int(m, "experts"),
                            Int(m, "top_k")));
                    }
                }
            }
        }
        catch (YamlException e)
        {
            result.Diagnostics.Add(new DiagnosticInfo("FER0001", $"kernels.yaml is not valid YAML: {e.Message}", path, (int)e.Start.Line, (int)e.Start.Column, DiagnosticSeverity.Error));
        }

        return result;
    }

    private static string? Scalar(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    private static int Int(YamlMappingNode m, string key) =>
        int.TryParse(Scalar(m, key), out var v) ? v : 0;

    /// <summary>"qwen3-30b-a3b" becomes "Qwen3_30B_A3B": split on separators, capitalize each part and every letter after a digit.</summary>
    public static string ToTypeName(string name)
    {
        var parts = name.Split(new[] { '-', '_', '.', ' ' }, StringSplitOptions.RemoveEmptyEntries);
        var words = new List<string>();
        foreach (var p in parts)
        {
            var chars = p.ToCharArray();
            for (var i = 0; i < chars.Length; i++)
            {
                if (i == 0 || char.IsDigit(chars[i - 1]))
                {
                    chars[i] = char.ToUpperInvariant(chars[i]);
                }
            }

            words.Add(new string(chars));
        }

        return string.Join("_", words);
    }
}
