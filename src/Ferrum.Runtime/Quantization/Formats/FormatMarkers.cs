using System.Reflection;

namespace Ferrum.Quantization.Formats;

/// <summary>Maps a ggml type id to its format marker type (<see cref="Q4_K"/> for <see cref="GgmlType.Q4_K"/>), found once by reflection.</summary>
public static class FormatMarkers
{
    private static readonly Dictionary<GgmlType, Type> ByType = typeof(IQuantFormat).Assembly.GetTypes()
        .Where(t => t.IsValueType && typeof(IQuantFormat).IsAssignableFrom(t))
        .ToDictionary(t => (GgmlType)t.GetProperty(nameof(IQuantFormat.Type), BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!);

    /// <summary>The marker type of <paramref name="type"/>, or null when Ferrum has none.</summary>
    public static Type? Of(GgmlType type) => ByType.GetValueOrDefault(type);
}
