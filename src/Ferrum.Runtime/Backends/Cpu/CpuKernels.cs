using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The shape-generic CPU kernels, one per weight format and SIMD level, and the lookup that picks the best one
/// for this machine. Generated kernels specialized for declared shapes register themselves via <see cref="Register"/>.
/// </summary>
public static class CpuKernels
{
    private static readonly object Gate = new();
    private static readonly Dictionary<(GgmlType, int), CpuMatKernel> Specialized = new();

    /// <summary>Weight formats the CPU backend runs (derived from the rows of <see cref="CpuFormatTable"/>).</summary>
    public static IReadOnlyList<GgmlType> Formats { get; } = CpuFormatTable.All.Select(r => r.Type).ToArray();

    /// <summary>True when <paramref name="type"/> has a CPU kernel.</summary>
    public static bool Supports(GgmlType type) => CpuFormatTable.Find(type) is not null;

    /// <summary>
    /// The kernel for <paramref name="type"/>: a registered specialization for row length <paramref name="k"/> when one
    /// exists and runs at the current SIMD level, otherwise the shape-generic kernel at <see cref="CpuSimd.Level"/>.
    /// </summary>
    public static CpuMatKernel Get(GgmlType type, int k = 0)
    {
        if (k != 0)
        {
            lock (Gate)
            {
                if (Specialized.TryGetValue((type, k), out var s) && s.Level == CpuSimd.Level)
                {
                    return s;
                }
            }
        }

        return Generic(type, CpuSimd.Level);
    }

    /// <summary>Registers a kernel specialized for one row length (called by generated code's module initializer).</summary>
    public static void Register(CpuMatKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.FixedK <= 0)
        {
            throw new ArgumentException("only kernels specialized for a row length can be registered", nameof(kernel));
        }

        lock (Gate)
        {
            Specialized[(kernel.WeightType, kernel.FixedK)] = kernel;
        }
    }

    /// <summary>The shape-generic kernel for a format at a SIMD level (lower levels than requested when a format has no such path).</summary>
    public static CpuMatKernel Generic(GgmlType type, SimdLevel level) => CpuFormatTable.Get(type).Best(level);

    /// <summary>
    /// The shape-generic kernel of the format <typeparamref name="TQuant"/> at <paramref name="level"/> (or the best
    /// lower level it has), resolved through the format's CPU row once per process and format.
    /// </summary>
    public static CpuMatKernel For<TQuant>(SimdLevel level)
        where TQuant : IQuantFormat => CpuKernelOf<TQuant>.At(level);

    /// <summary>
    /// A kernel specialized for the row length <typeparamref name="TK"/> (a JIT-time constant), for the formats that
    /// have a batched AVX-512 kernel on this machine; null otherwise. Generated code registers these for the shapes
    /// declared in kernels.yaml.
    /// </summary>
    public static CpuMatKernel? Specialize<TK>(GgmlType type)
        where TK : struct, IFixedRowLength
    {
        if (CpuSimd.Level < SimdLevel.Avx512 || TK.Value <= 0 || TK.Value % GgmlTypeInfo.Get(type).BlockSize != 0)
        {
            return null;
        }

        return CpuFormatTable.Find(type)?.Batched?.Make<TK>();
    }
}
