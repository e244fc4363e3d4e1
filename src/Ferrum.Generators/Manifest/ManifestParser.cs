using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Ferrum.Generators.Diagnostics;
using Ferrum.Generators.Helpers;
using Ferrum.Quantization;
using Microsoft.CodeAnalysis.Text;
using YamlDotNet.Core;

namespace Ferrum.Generators.Manifest;

/// <summary>
/// kernels.yaml → <see cref="ManifestInfo"/> plus diagnostics. Never throws: YAML errors and anything unexpected
/// become diagnostics located in the manifest. A model with any error is left out of the result (nothing is
/// generated for it), the rest of the manifest still generates.
/// </summary>
internal sealed class ManifestParser
{
    private readonly string path;
    private readonly int textLength;
    private readonly TextLineCollection lines;
    private readonly List<DiagnosticInfo> diagnostics = new();

    private ManifestParser(string path, string text)
    {
        this.path = path;
        textLength = text.Length;
        lines = SourceText.From(text).Lines;
    }

    public static bool IsManifestPath(string path)
    {
        var name = Path.GetFileName(path);
        return string.Equals(name, "kernels.yaml", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".kernels.yaml", StringComparison.OrdinalIgnoreCase);
    }

    public static ParseResult Parse(string path, string text, CancellationToken cancellationToken = default)
    {
        var parser = new ManifestParser(path, text);
        var empty = new ManifestInfo(path, EquatableArray<KernelTarget>.Empty, EquatableArray<GgmlType>.Empty, EquatableArray<ModelDecl>.Empty);
        ManifestInfo manifest;
        try
        {
            manifest = parser.ParseText(text, cancellationToken) ?? empty;
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (YamlException e)
        {
            parser.diagnostics.Clear();
            parser.diagnostics.Add(parser.At(DiagnosticDescriptors.YamlSyntaxError, e.Start, e.End, YamlMessage(e)));
            manifest = empty;
        }
        catch (Exception e)
        {
            // Anything else (a YamlDotNet bug, a pathological document): report, never throw to the compiler.
            parser.diagnostics.Clear();
            parser.diagnostics.Add(DiagnosticInfo.AtFileStart(DiagnosticDescriptors.InternalError, path, $"{e.GetType().Name}: {e.Message}"));
            manifest = empty;
        }

        return new ParseResult(manifest, parser.diagnostics.ToEquatableArray());
    }

    private static string YamlMessage(YamlException e)
    {
        // YamlDotNet prefixes its messages with "(Line: l, Col: c, Idx: i) - (...): "; the location is reported separately.
        var message = e.InnerException is YamlException inner ? inner.Message : e.Message;
        var cut = message.LastIndexOf("): ", StringComparison.Ordinal);
        return cut >= 0 ? message.Substring(cut + 3) : message;
    }

    private ManifestInfo? ParseText(string text, CancellationToken cancellationToken)
    {
        var documents = YamlTree.Load(text);
        cancellationToken.ThrowIfCancellationRequested();

        if (documents.Count == 0 || IsNull(documents[0]))
        {
            diagnostics.Add(DiagnosticInfo.AtFileStart(DiagnosticDescriptors.EmptyManifest, path));
            return null;
        }

        if (documents.Count > 1)
        {
            Report(DiagnosticDescriptors.InvalidValue, documents[1], "kernels.yaml", "a single YAML document", $"{documents.Count} documents");
        }

        if (documents[0] is not YamlTreeMapping root)
        {
            Report(DiagnosticDescriptors.InvalidValue, documents[0], "kernels.yaml", "a mapping with targets, formats and models", Describe(documents[0]));
            return null;
        }

        var keys = ReadKeys(root, "the manifest", ManifestVocabulary.TopLevelKeys);

        var targets = new List<KernelTarget> { KernelTarget.Cpu };
        if (keys.TryGetValue("targets", out var targetsNode))
        {
            targets = ReadList(targetsNode, "targets", "a list of targets").Select(ParseTarget).Where(t => t.HasValue).Select(t => t!.Value).Distinct().ToList();
        }

        var formats = new List<GgmlType>();
        if (keys.TryGetValue("formats", out var formatsNode))
        {
            formats = ReadList(formatsNode, "formats", "a list of formats").Select(ParseFormat).Where(f => f.HasValue).Select(f => f!.Value).Distinct().ToList();
        }

        var models = new List<ModelDecl>();
        var declared = new Dictionary<string, string>(StringComparer.Ordinal);
        var sawModel = false;
        if (keys.TryGetValue("models", out var modelsNode))
        {
            foreach (var node in ReadList(modelsNode, "models", "a list of models"))
            {
                cancellationToken.ThrowIfCancellationRequested();
                sawModel = true;
                var model = ParseModel(node, declared);
                if (model is not null)
                {
                    models.Add(model);
                }
            }
        }
        else
        {
            ReportAtStart(DiagnosticDescriptors.MissingKey, root, "The manifest", "models");
        }

        if (!sawModel && formats.Count == 0 && keys.ContainsKey("models"))
        {
            diagnostics.Add(At(DiagnosticDescriptors.EmptyManifest, root.Start, root.Start));
        }

        return new ManifestInfo(path, targets.ToEquatableArray(), formats.ToEquatableArray(), models.ToEquatableArray());
    }

    private ModelDecl? ParseModel(YamlTreeNode node, Dictionary<string, string> declared)
    {
        if (node is not YamlTreeMapping map)
        {
            Report(DiagnosticDescriptors.InvalidValue, node, "models[]", "a mapping (name, arch, hidden, ...)", Describe(node));
            return null;
        }

        var errors = diagnostics.Count(d => d.Descriptor.DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        var keys = ReadKeys(map, "a model", ManifestVocabulary.ModelKeys);
        var label = "A model";
        string? name = null;
        if (keys.TryGetValue("name", out var nameNode) && ReadScalar(nameNode, "name", "a model name") is { } nameText)
        {
            name = nameText;
            label = $"Model '{name}'";
        }

        foreach (var required in ManifestVocabulary.RequiredModelKeys)
        {
            if (!keys.ContainsKey(required))
            {
                ReportAtStart(DiagnosticDescriptors.MissingKey, map, label, required);
            }
        }

        var typeName = string.Empty;
        if (name is not null)
        {
            typeName = TypeNames.ToTypeName(name);
            if (!TypeNames.IsValidTypeName(typeName))
            {
                Report(DiagnosticDescriptors.InvalidIdentifier, nameNode!, name, typeName);
            }
            else if (declared.TryGetValue(typeName, out var first))
            {
                var also = first == name ? string.Empty : $"; '{first}' already maps to that type";
                Report(DiagnosticDescriptors.DuplicateModel, nameNode!, name, typeName, also);
            }
            else
            {
                declared.Add(typeName, name);
            }
        }

        string arch = string.Empty;
        if (keys.TryGetValue("arch", out var archNode) && ReadScalar(archNode, "arch", "an architecture name") is { } archText)
        {
            if (!ManifestVocabulary.TryParseArch(archText, out arch))
            {
                Report(DiagnosticDescriptors.UnknownArch, archNode, archText, name ?? "?", ManifestVocabulary.ArchitectureList);
            }
        }

        var hidden = ReadInt(keys, "hidden", 1, ManifestVocabulary.MaxDimension);
        var expertFfn = ReadInt(keys, "expert_ffn", 1, ManifestVocabulary.MaxDimension);
        var experts = ReadInt(keys, "experts", 1, ManifestVocabulary.MaxExperts);
        var topK = ReadInt(keys, "top_k", int.MinValue, int.MaxValue);
        if (topK is { } k && experts is { } e && (k < 1 || k > e))
        {
            Report(DiagnosticDescriptors.TopKOutOfRange, keys["top_k"], name ?? "?", k, e);
        }
        else if (topK is { } k1 && experts is null && k1 < 1)
        {
            Report(DiagnosticDescriptors.TopKOutOfRange, keys["top_k"], name ?? "?", k1, "?");
        }

        var gate = new List<GgmlType>();
        var up = new List<GgmlType>();
        var down = new List<GgmlType>();
        if (keys.TryGetValue("roles", out var rolesNode))
        {
            if (rolesNode is not YamlTreeMapping rolesMap)
            {
                Report(DiagnosticDescriptors.InvalidValue, rolesNode, "roles", "a mapping { gate: [...], up: [...], down: [...] }", Describe(rolesNode));
            }
            else
            {
                var roles = ReadKeys(rolesMap, "roles", ManifestVocabulary.Roles);
                foreach (var role in ManifestVocabulary.Roles)
                {
                    if (!roles.TryGetValue(role, out var roleNode))
                    {
                        ReportAtStart(DiagnosticDescriptors.MissingKey, rolesMap, $"roles of {label.ToLowerInvariant()}", role);
                        continue;
                    }

                    var list = role == "gate" ? gate : role == "up" ? up : down;
                    var items = ReadList(roleNode, $"roles.{role}", "a list of formats");
                    if (items.Count == 0 && roleNode is YamlTreeSequence)
                    {
                        Report(DiagnosticDescriptors.InvalidValue, roleNode, $"roles.{role}", "a non-empty list of formats", "empty");
                    }

                    foreach (var item in items)
                    {
                        if (ParseFormat(item) is not { } format)
                        {
                            continue;
                        }

                        // gate/up rows are `hidden` long, down rows `expert_ffn` long: each must split into whole blocks.
                        var rowLength = role == "down" ? expertFfn : hidden;
                        var info = GgmlTypeInfo.Get(format);
                        if (rowLength is { } length && length % info.BlockSize != 0)
                        {
                            Report(DiagnosticDescriptors.RowLengthNotBlockMultiple, item, name ?? "?", role, length, role == "down" ? "expert_ffn" : "hidden", info.Name, info.BlockSize);
                        }

                        if (!list.Contains(format))
                        {
                            list.Add(format);
                        }
                    }
                }
            }
        }

        var batches = new List<int>();
        if (keys.TryGetValue("batches", out var batchesNode))
        {
            foreach (var item in ReadList(batchesNode, "batches", "a list of token counts"))
            {
                if (ReadIntNode(item, "batches[]", 1, ManifestVocabulary.MaxBatch) is { } b && !batches.Contains(b))
                {
                    batches.Add(b);
                }
            }
        }
        else
        {
            batches.Add(1);
        }

        var hasErrors = diagnostics.Count(d => d.Descriptor.DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error) > errors;
        if (hasErrors || name is null || hidden is null || expertFfn is null || experts is null || topK is null
            || gate.Count == 0 || up.Count == 0 || down.Count == 0)
        {
            return null;
        }

        return new ModelDecl(
            name, typeName, arch, hidden.Value, expertFfn.Value, experts.Value, topK.Value,
            gate.ToEquatableArray(), up.ToEquatableArray(), down.ToEquatableArray(), batches.ToEquatableArray(), path);
    }

    private KernelTarget? ParseTarget(YamlTreeNode node)
    {
        if (ReadScalar(node, "targets[]", "a target name") is not { } text)
        {
            return null;
        }

        if (ManifestVocabulary.TryParseTarget(text, out var target))
        {
            return target;
        }

        Report(DiagnosticDescriptors.UnknownTarget, node, text);
        return null;
    }

    private GgmlType? ParseFormat(YamlTreeNode node)
    {
        if (ReadScalar(node, "format", "a format name such as q4_K") is not { } text)
        {
            return null;
        }

        if (ManifestVocabulary.TryParseFormat(text, out var format, out var unsupported))
        {
            return format;
        }

        Report(DiagnosticDescriptors.UnknownFormat, node, text, unsupported ? " (a ggml type Ferrum has no kernels for)" : string.Empty, ManifestVocabulary.SupportedFormatList);
        return null;
    }

    /// <summary>Reads a mapping's keys, warning about unknown ones; duplicate keys are a YAML error raised by YamlDotNet.</summary>
    private Dictionary<string, YamlTreeNode> ReadKeys(YamlTreeMapping map, string where, string[] allowed)
    {
        var result = new Dictionary<string, YamlTreeNode>(StringComparer.Ordinal);
        foreach (var pair in map.Pairs)
        {
            if (pair.Key is not YamlTreeScalar { IsNull: false, Value: var key })
            {
                Report(DiagnosticDescriptors.InvalidValue, pair.Key, $"a key in {where}", "a plain name", Describe(pair.Key));
                continue;
            }

            if (Array.IndexOf(allowed, key) < 0)
            {
                Report(DiagnosticDescriptors.UnknownKey, pair.Key, key, where, string.Join(", ", allowed));
                continue;
            }

            if (!result.ContainsKey(key))
            {
                result.Add(key, pair.Value);
            }
        }

        return result;
    }

    /// <summary>A sequence's items; a single scalar counts as a one-item list ("down: q6_K").</summary>
    private List<YamlTreeNode> ReadList(YamlTreeNode node, string key, string expected)
    {
        switch (node)
        {
            case YamlTreeSequence seq:
                return seq.Items.ToList();
            case YamlTreeScalar scalar when !IsNull(scalar):
                return new List<YamlTreeNode> { scalar };
            default:
                Report(DiagnosticDescriptors.InvalidValue, node, key, expected, Describe(node));
                return new List<YamlTreeNode>();
        }
    }

    private string? ReadScalar(YamlTreeNode node, string key, string expected)
    {
        if (node is YamlTreeScalar { IsNull: false, Value: { Length: > 0 } value })
        {
            return value;
        }

        Report(DiagnosticDescriptors.InvalidValue, node, key, expected, Describe(node));
        return null;
    }

    private int? ReadInt(Dictionary<string, YamlTreeNode> keys, string key, int min, int max) =>
        keys.TryGetValue(key, out var node) ? ReadIntNode(node, key, min, max) : null;

    private int? ReadIntNode(YamlTreeNode node, string key, int min, int max)
    {
        var expected = min == int.MinValue ? "an integer" : $"an integer from {min} to {max}";
        if (ReadScalar(node, key, expected) is not { } text)
        {
            return null;
        }

        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            Report(DiagnosticDescriptors.InvalidValue, node, key, expected, $"'{Truncate(text)}'");
            return null;
        }

        return (int)value;
    }

    private static bool IsNull(YamlTreeNode node) => node is YamlTreeScalar { IsNull: true };

    private static string Describe(YamlTreeNode node) => node switch
    {
        YamlTreeSequence => "a list",
        YamlTreeMapping => "a mapping",
        YamlTreeScalar s when IsNull(s) => "empty",
        YamlTreeScalar s => $"'{Truncate(s.Value)}'",
        _ => "an alias",
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text.Substring(0, 40) + "...";

    private void Report(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, YamlTreeNode node, params object?[] args) =>
        diagnostics.Add(At(descriptor, node.Start, node.End, args));

    /// <summary>At the first character of <paramref name="node"/> (a missing key belongs to the whole mapping; one point reads better).</summary>
    private void ReportAtStart(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, YamlTreeNode node, params object?[] args) =>
        diagnostics.Add(At(descriptor, node.Start, node.Start, args));

    private DiagnosticInfo At(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, Mark start, Mark end, params object?[] args)
    {
        // YamlDotNet marks are 1-based lines/columns and 0-based character indexes; Roslyn wants 0-based everywhere.
        var startIndex = Clamp(start.Index, 0, textLength);
        var endIndex = Clamp(end.Index, startIndex, textLength);
        var startPos = Position(start);
        var endPos = Position(end);
        if (endPos < startPos)
        {
            endPos = startPos;
        }

        return DiagnosticInfo.Create(descriptor, path, TextSpan.FromBounds(startIndex, endIndex), new LinePositionSpan(startPos, endPos), args);
    }

    /// <summary>The mark as a 0-based position, kept inside the text (YamlDotNet may point one line past the end).</summary>
    private LinePosition Position(Mark mark)
    {
        var line = Clamp(mark.Line - 1, 0, lines.Count - 1);
        var length = lines[line].End - lines[line].Start;
        return new LinePosition(line, Clamp(mark.Column - 1, 0, length));
    }

    private static int Clamp(long value, int min, int max) => (int)Math.Max(min, Math.Min(max, value));
}
