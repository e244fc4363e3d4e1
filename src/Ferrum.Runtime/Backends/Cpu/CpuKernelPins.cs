using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Kernel choices fixed by the user instead of measured: one SIMD level for every format (<c>avx2</c>) or one per
/// format (<c>q4_K=avx2,q6_K=scalar</c>), as read from <see cref="CpuTuning.PinVariable"/> or set through
/// <see cref="CpuMoeOptions.KernelPins"/>. A pinned format is never measured. A level above what the machine or
/// the format has resolves to the best kernel below it (the same rule as <see cref="CpuKernels.Generic"/>).
/// </summary>
public sealed class CpuKernelPins
{
    private readonly Dictionary<GgmlType, SimdLevel> _byFormat;

    private CpuKernelPins(SimdLevel? all, Dictionary<GgmlType, SimdLevel> byFormat, string text)
    {
        All = all;
        _byFormat = byFormat;
        Text = text;
    }

    /// <summary>No pins: every format follows the measured decision.</summary>
    public static CpuKernelPins None { get; } = new(null, [], "");

    /// <summary>The level pinned for every format, or null.</summary>
    public SimdLevel? All { get; }

    /// <summary>The pins as written (normalized: lower-case levels, ggml format names).</summary>
    public string Text { get; }

    /// <summary>True when nothing is pinned.</summary>
    public bool IsEmpty => All is null && _byFormat.Count == 0;

    /// <summary>Pins every format to <paramref name="level"/>.</summary>
    public static CpuKernelPins Every(SimdLevel level) => new(level, [], Name(level));

    /// <summary>The level pinned for <paramref name="type"/>, or null when it is not pinned.</summary>
    public SimdLevel? For(GgmlType type) => _byFormat.TryGetValue(type, out var l) ? l : All;

    /// <summary>
    /// Parses <c>avx2</c> (every format) or <c>q4_K=avx2,q6_K=scalar</c> (per format; names as ggml spells them,
    /// case-insensitive). Levels: scalar, vector128, avx2, avx512. Null or blank means no pins.
    /// </summary>
    /// <exception cref="FormatException">an unknown level or format, a format the CPU backend does not run, or a format named twice; the message names the entry.</exception>
    public static CpuKernelPins Parse(string? text, string source = "kernel pins")
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return None;
        }

        var entries = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length == 1 && !entries[0].Contains('=', StringComparison.Ordinal))
        {
            return Every(ParseLevel(entries[0], source));
        }

        var byFormat = new Dictionary<GgmlType, SimdLevel>();
        foreach (var e in entries)
        {
            int eq = e.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"{source}: '{e}' is not format=level (e.g. q4_K=avx2), and a single level pins every format only on its own");
            }

            var name = e[..eq].Trim();
            var type = CpuKernels.Formats.FirstOrDefault(t => string.Equals(GgmlTypeInfo.Get(t).Name, name, StringComparison.OrdinalIgnoreCase), (GgmlType)uint.MaxValue);
            if (type == (GgmlType)uint.MaxValue)
            {
                throw new FormatException($"{source}: '{name}' is not a weight format the CPU backend runs ({string.Join(", ", CpuKernels.Formats.Select(t => GgmlTypeInfo.Get(t).Name))})");
            }

            if (!byFormat.TryAdd(type, ParseLevel(e[(eq + 1)..].Trim(), source)))
            {
                throw new FormatException($"{source}: {GgmlTypeInfo.Get(type).Name} is pinned twice");
            }
        }

        var normalized = string.Join(',', byFormat.Select(p => $"{GgmlTypeInfo.Get(p.Key).Name}={Name(p.Value)}"));
        return new CpuKernelPins(null, byFormat, normalized);
    }

    /// <summary>The lower-case name of a level (scalar, vector128, avx2, avx512).</summary>
    public static string Name(SimdLevel level) => level.ToString().ToLowerInvariant();

    /// <summary>Parses a level name; <see cref="FormatException"/> naming the source otherwise.</summary>
    public static SimdLevel ParseLevel(string text, string source = "kernel pins")
    {
        foreach (var l in Enum.GetValues<SimdLevel>())
        {
            if (string.Equals(Name(l), text, StringComparison.OrdinalIgnoreCase))
            {
                return l;
            }
        }

        throw new FormatException($"{source}: '{text}' is not a SIMD level (scalar, vector128, avx2, avx512)");
    }

    /// <inheritdoc />
    public override string ToString() => IsEmpty ? "(none)" : Text;
}
