using System.Collections.Concurrent;

namespace Ferrum.Kernels;

/// <summary>One generated GPU kernel source.</summary>
/// <param name="Name">Readable name, e.g. "q8_0/768x2048/b1".</param>
/// <param name="Target">OpenCL or Metal.</param>
/// <param name="EntryPoint">The kernel function name in <paramref name="Text"/>.</param>
/// <param name="Key">Format and shape it is specialized for (generic: sizes zero).</param>
/// <param name="Extension">File extension for the source (".cl", ".metal").</param>
/// <param name="Text">The source text, shape constants baked in.</param>
public sealed record KernelSource(string Name, KernelTarget Target, string EntryPoint, KernelKey Key, string Extension, string Text)
{
    /// <summary>A file name for the source, e.g. "opencl.q8_0.768x2048.b1.cl".</summary>
    public string FileName => $"{Target.ToString().ToLowerInvariant()}.{Name.Replace('/', '.')}{Extension}";
}

/// <summary>
/// Every generated OpenCL and Metal kernel source of the loaded assemblies; generated module initializers add
/// them. Backends compile from here; <c>ferrum kernels</c> lists or writes them.
/// </summary>
public static class KernelSourceCatalog
{
    private static readonly ConcurrentDictionary<(KernelTarget, string), KernelSource> Sources = new();

    /// <summary>Adds a source; a later registration of the same target and name replaces the earlier one.</summary>
    public static void Register(KernelSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Sources[(source.Target, source.Name)] = source;
    }

    /// <summary>All sources, ordered by target, then name.</summary>
    public static IReadOnlyList<KernelSource> All =>
        Sources.Values.OrderBy(s => s.Target).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();

    /// <summary>The sources of one target.</summary>
    public static IReadOnlyList<KernelSource> For(KernelTarget target) => All.Where(s => s.Target == target).ToList();

    /// <summary>The source of <paramref name="target"/> for the exact key, else the format's generic one, else null.</summary>
    public static KernelSource? Find(KernelTarget target, KernelKey key) =>
        All.FirstOrDefault(s => s.Target == target && s.Key == key)
        ?? All.FirstOrDefault(s => s.Target == target && s.Key == KernelKey.Generic(key.Format));
}
