using Ferrum.Kernels;
using Ferrum.Quantization;

namespace Ferrum.Backends;

/// <summary>
/// Looks up a generated GPU MoE program: for <paramref name="rows"/> × <paramref name="rowLength"/> the program of
/// <paramref name="format"/> specialized for that weight matrix shape (gate/up: F×H, down: H×F); with both zero the
/// format's shape-generic one; null when it was not generated.
/// </summary>
public delegate string? MoeProgramSources(GgmlType format, int rows, int rowLength);

/// <summary>
/// The one rule by which the GPU backends (OpenCL, Metal) find their generated MoE programs in the
/// <see cref="KernelSourceCatalog"/>.
/// <para>Batch: a generated program holds its format's MoE kernels (routing, gate||up, down + weighted sum, prefill
/// tiles), which take the token count as an argument, plus the generator's dense mat-vec entry point, the only code
/// that bakes a batch in (<c>BATCH</c>); the MoE executors never call that entry point. Every batch variant of a
/// shape (kernels.yaml's <c>batches</c>) therefore holds the same MoE kernels, so the lookup ignores the batch and takes
/// the variant with the smallest one, which keeps the choice (and the program cache key) deterministic.</para>
/// </summary>
public static class MoePrograms
{
    /// <summary>The catalog's programs of <paramref name="target"/> under the rule of <see cref="Find"/>.</summary>
    public static MoeProgramSources Catalog(KernelTarget target) => (format, rows, rowLength) => Find(target, format, rows, rowLength)?.Text;

    /// <summary>
    /// The program of <paramref name="target"/> and <paramref name="format"/> specialized for <paramref name="rows"/> ×
    /// <paramref name="rowLength"/> (any batch variant: the smallest), or with both zero the shape-generic one; null
    /// when none was generated. No fallback from a shape to the generic program: callers choose that explicitly.
    /// </summary>
    public static KernelSource? Find(KernelTarget target, GgmlType format, int rows, int rowLength)
    {
        KernelSource? best = null;
        foreach (var s in KernelSourceCatalog.For(target))
        {
            var k = s.Key;
            bool match = rows == 0 && rowLength == 0 ? k.IsGeneric && k.Format == format : k.Format == format && k.Rows == rows && k.RowLength == rowLength;
            if (match && (best is null || k.Batch < best.Key.Batch))
            {
                best = s;
            }
        }

        return best;
    }

    /// <summary>
    /// The source for a weight matrix: the program specialized for its shape when <paramref name="sources"/> has one,
    /// else the format's shape-generic one; null when neither exists.
    /// </summary>
    internal static (string Text, bool Specialized)? Resolve(MoeProgramSources sources, GgmlType format, int rows, int rowLength)
    {
        if (sources(format, rows, rowLength) is { } specialized)
        {
            return (specialized, true);
        }

        return sources(format, 0, 0) is { } generic ? (generic, false) : null;
    }
}
