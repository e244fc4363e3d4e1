namespace Ferrum.SyntheticModels.Vocab;

/// <summary>
/// The text the synthetic vocabularies are trained on: synthetic-models/Vocab/corpus/*.txt, embedded in this assembly.
/// It is the project's own documentation and source plus prose, numbers and multilingual lines written for it.
/// </summary>
public static class Corpus
{
    private const string Prefix = "Ferrum.SyntheticModels.Vocab.corpus.";
    private static readonly Lazy<IReadOnlyList<(string Name, string Text)>> Files = new(Load);

    /// <summary>The corpus files (name, text), ordered by name.</summary>
    public static IReadOnlyList<(string Name, string Text)> Documents => Files.Value;

    /// <summary>All corpus text, files in name order separated by a newline.</summary>
    public static string Text => string.Join("\n", Documents.Select(d => d.Text));

    private static IReadOnlyList<(string, string)> Load()
    {
        var asm = typeof(Corpus).Assembly;
        var list = new List<(string, string)>();
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
        {
            using var stream = asm.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            list.Add((name[Prefix.Length..], reader.ReadToEnd().Replace("\r\n", "\n")));
        }
        if (list.Count == 0)
        {
            throw new InvalidOperationException($"no embedded corpus files ({Prefix}*) in {asm.GetName().Name}");
        }
        return list;
    }
}
