using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The shape-generic CPU kernels, one per weight format and SIMD level (rows of <see cref="CpuFormatTable"/>), and
/// the choice of the best one for this machine. There is no registry: kernels generated for declared shapes are
/// bound by the generated model types.
/// </summary>
public static class CpuKernels
{
    /// <summary>Weight formats the CPU backend runs (derived from the rows of <see cref="CpuFormatTable"/>).</summary>
    public static IReadOnlyList<GgmlType> Formats { get; } = CpuFormatTable.All.Select(r => r.Type).ToArray();

    /// <summary>True when <paramref name="type"/> has a CPU kernel.</summary>
    public static bool Supports(GgmlType type) => CpuFormatTable.Find(type) is not null;

    /// <summary>
    /// The shape-generic kernel for <paramref name="type"/> chosen for this machine: pinned by
    /// <see cref="CpuTuning.PinVariable"/>, else measured by <c>ferrum tune</c> (<see cref="CpuTuning"/>, read from
    /// the cache once per process), else the highest SIMD level; never above <see cref="CpuSimd.Level"/>.
    /// Kernels specialized for a declared shape are not looked up: generated model types bind them at load
    /// (<see cref="CpuKernelSet"/>).
    /// </summary>
    public static CpuMatKernel Get(GgmlType type) => Get(type, null);

    /// <summary>
    /// As <see cref="Get(GgmlType)"/>, with <paramref name="pins"/> (e.g. <see cref="CpuMoeOptions.KernelPins"/>)
    /// taking precedence over the environment's pins and the measured decision.
    /// </summary>
    public static CpuMatKernel Get(GgmlType type, CpuKernelPins? pins)
    {
        var row = CpuFormatTable.Get(type);
        var level = CpuTuning.Current.LevelFor(type, pins);
        return row.Best(level < CpuSimd.Level ? level : CpuSimd.Level);
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
    /// A kernel specialized for the row length <typeparamref name="TK"/> (a JIT-time constant), for the formats whose
    /// chosen SIMD level on this machine has a batched (×4) kernel; null otherwise. Generated kernels for the shapes
    /// declared in kernels.yaml are made this way.
    /// </summary>
    public static CpuMatKernel? Specialize<TK>(GgmlType type)
        where TK : struct, IFixedRowLength
    {
        if (!Supports(type) || TK.Value <= 0 || TK.Value % GgmlTypeInfo.Get(type).BlockSize != 0)
        {
            return null;
        }

        // The level the generic kernel would run at (tuned choice, capped by CpuSimd.Limit), then that level's ×4 kernel.
        var row = CpuFormatTable.Get(type);
        var chosen = CpuTuning.Current.LevelFor(type);
        var runs = row.Best(chosen < CpuSimd.Level ? chosen : CpuSimd.Level);
        return row.BatchedAt(runs.Level)?.Make<TK>();
    }
}
