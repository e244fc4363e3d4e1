using System.Globalization;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;
using Ferrum.Sample.Demo;

namespace Ferrum.Sample.Commands;

/// <summary>
/// The synthetic files of <c>ferrum bench --formats</c>: per weight format, an MoE-only qwen3moe model whose gate, up
/// and down experts are all in that format (router f32), written once with Ferrum's quantizers by
/// <see cref="DemoModel.Build"/> and cached next to the demo model.
/// </summary>
public static class BenchFormats
{
    /// <summary>
    /// The default shape: Qwen3-30B-A3B's expert sizes (hidden 2048, expert FFN 768, top-8) with 32 experts, two
    /// layers so the passes rotate over more expert bytes than a 32 MB L3 holds for most formats.
    /// </summary>
    public static readonly DemoShape Default = new(Layers: 2, Hidden: 2048, ExpertFfn: 768, Experts: 32, TopK: 8);

    // Bump when the files' content changes, so stale cached files are rebuilt.
    private const int FileVersion = 1;

    /// <summary>The formats "all" stands for: every weight format of <see cref="FormatRow.All"/>, in that order.</summary>
    public static IReadOnlyList<GgmlType> All => FormatRow.Types;

    /// <summary>The names accepted in a list, for messages.</summary>
    public static string Names => string.Join(", ", All.Select(t => GgmlTypeInfo.Get(t).Name));

    /// <summary>
    /// Parses "all" or a comma-separated list of ggml format names (case-insensitive, duplicates dropped); throws
    /// naming the bad entry.
    /// </summary>
    public static IReadOnlyList<GgmlType> Parse(string text)
    {
        if (TryParse(text, out var types, out var bad))
        {
            return types;
        }

        throw new ArgumentException(Error(bad));
    }

    /// <summary>The one-line message for the bad entry <paramref name="bad"/>.</summary>
    public static string Error(string bad) => $"--formats: '{bad}' is not a weight format (give 'all' or a comma-separated list of: {Names})";

    /// <summary>Parses like <see cref="Parse"/>; on failure <paramref name="bad"/> is the first bad entry.</summary>
    public static bool TryParse(string? text, out IReadOnlyList<GgmlType> types, out string bad)
    {
        var list = new List<GgmlType>();
        types = list;
        bad = "";
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                list.AddRange(All.Where(t => !list.Contains(t)));
                continue;
            }

            if (!GgmlTypeInfo.TryParse(part, out var info) || !All.Contains(info.Type))
            {
                bad = part;
                return false;
            }

            if (!list.Contains(info.Type))
            {
                list.Add(info.Type);
            }
        }

        return true;
    }

    /// <summary>Parses the hidden --shape knob "layers,hidden,ffn,experts,topk"; throws naming the problem.</summary>
    public static DemoShape ParseShape(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var v = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out v[i]) || v[i] < 1 || v[i] > 65536)
            {
                throw new ArgumentException($"--shape: '{parts[i]}' is not a size in 1..65536 (expected layers,hidden,ffn,experts,topk)");
            }
        }

        if (v.Length != 5)
        {
            throw new ArgumentException($"--shape: expected 5 sizes layers,hidden,ffn,experts,topk, got {v.Length}");
        }

        if (v[0] > 64 || v[4] > v[3] || v[1] % 256 != 0 || v[2] % 256 != 0)
        {
            throw new ArgumentException($"--shape {text}: need at most 64 layers, topk ≤ experts, and hidden and ffn multiples of 256 (every format's block)");
        }

        return new DemoShape(v[0], v[1], v[2], v[3], v[4]);
    }

    /// <summary>The cached file of <paramref name="type"/> at <paramref name="shape"/>, in the demo model's cache folder.</summary>
    public static string CachePath(GgmlType type, DemoShape shape) =>
        Path.Combine(Path.GetDirectoryName(DemoModel.CachePath)!,
            $"bench-{GgmlTypeInfo.Get(type).Name}-l{shape.Layers}-h{shape.Hidden}-f{shape.ExpertFfn}-e{shape.Experts}-k{shape.TopK}-v{FileVersion}.gguf");

    /// <summary>
    /// Reads the whole file once so its pages are in the page cache before timing: the side timed first (Ferrum)
    /// would otherwise pay the disk reads of a file evicted since it was written (files of all formats take ~4.6 GB).
    /// </summary>
    public static void ReadThrough(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        var buffer = new byte[1 << 20];
        while (f.Read(buffer) > 0)
        {
        }
    }

    /// <summary>Writes the file of <paramref name="type"/> unless cached (atomically: a temp file moved into place); returns its path.</summary>
    public static string EnsureBuilt(GgmlType type, DemoShape shape, TextWriter log)
    {
        var path = CachePath(type, shape);
        if (File.Exists(path))
        {
            return path;
        }

        log.WriteLine($"writing the {GgmlTypeInfo.Get(type).Name} bench file once: {path}");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + $".{Environment.ProcessId}.tmp";
        try
        {
            DemoModel.Build(temp, shape, expertType: type);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }

        return path;
    }
}
