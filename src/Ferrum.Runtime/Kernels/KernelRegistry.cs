using System.Collections.Concurrent;
using Ferrum.Quantization;

namespace Ferrum.Kernels;

/// <summary>A registered CPU kernel.</summary>
/// <param name="Key">Format and shape it is specialized for (generic: sizes zero).</param>
/// <param name="Name">Readable name, e.g. "q8_0/768x2048/b1".</param>
/// <param name="Kernel">The kernel.</param>
public sealed record KernelEntry(KernelKey Key, string Name, MatVecKernel Kernel)
{
    /// <summary>True when the kernel was compiled for exactly this shape and batch.</summary>
    public bool IsSpecialized => !Key.IsGeneric;
}

/// <summary>
/// CPU kernels by (format, rows, row length, batch). Generated code registers its kernels from module initializers
/// when the assembly loads; <see cref="Find"/> prefers the specialized kernel and falls back to the generic one of
/// the format.
/// </summary>
public static class KernelRegistry
{
    private static readonly ConcurrentDictionary<KernelKey, KernelEntry> Entries = new();

    /// <summary>Registers a shape-specialized kernel; a later registration of the same key replaces the earlier one.</summary>
    public static void Register(KernelKey key, string name, MatVecKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(kernel);
        if (key.Rows < 0 || key.RowLength < 0 || key.Batch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(key), key, "kernel sizes cannot be negative");
        }

        Entries[key] = new KernelEntry(key, name, kernel);
    }

    /// <summary>Registers the shape-generic kernel of <paramref name="format"/>.</summary>
    public static void RegisterGeneric(GgmlType format, string name, MatVecKernel kernel) =>
        Register(KernelKey.Generic(format), name, kernel);

    /// <summary>The specialized kernel for the exact key, else the format's generic kernel, else null.</summary>
    public static KernelEntry? Find(GgmlType format, int rows, int rowLength, int batch) =>
        Entries.TryGetValue(new KernelKey(format, rows, rowLength, batch), out var exact) ? exact
        : Entries.TryGetValue(KernelKey.Generic(format), out var generic) ? generic
        : null;

    /// <summary>Like <see cref="Find"/>, but throws a <see cref="NotSupportedException"/> naming what is missing.</summary>
    public static KernelEntry Get(GgmlType format, int rows, int rowLength, int batch) =>
        Find(format, rows, rowLength, batch)
        ?? throw new NotSupportedException($"no CPU kernel for {new KernelKey(format, rows, rowLength, batch)} and no generic kernel for that format; add the format to 'formats' in kernels.yaml");

    /// <summary>Every registered kernel, ordered by format, then shape.</summary>
    public static IReadOnlyList<KernelEntry> All =>
        Entries.Values.OrderBy(e => e.Key.Format).ThenBy(e => e.Key.Rows).ThenBy(e => e.Key.RowLength).ThenBy(e => e.Key.Batch).ToList();
}
