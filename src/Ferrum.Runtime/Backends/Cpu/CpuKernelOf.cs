using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The CPU kernels of the format <typeparamref name="TQuant"/>, chosen once per process from its
/// <see cref="CpuFormatTable"/> row: generic code (<c>ExpertStack&lt;Q4_K&gt;</c>) binds its kernel statically,
/// with no lookup per call.
/// </summary>
/// <typeparam name="TQuant">The format's marker struct.</typeparam>
public static class CpuKernelOf<TQuant>
    where TQuant : IQuantFormat
{
    private static readonly CpuFormatRow Row = CpuFormatTable.Get(TQuant.Type);

    // The kernel each level resolves to (the best one at or below it), filled once.
    private static readonly CpuMatKernel[] ByLevel = Enum.GetValues<SimdLevel>().Select(Row.Best).ToArray();

    /// <summary>The kernel chosen for this machine when first used (<see cref="CpuKernels.Get(GgmlType)"/>: pinned, measured or the best SIMD level).</summary>
    /// <remarks>Fixed once, so it follows the machine (<see cref="CpuSimd.Supported"/>), not a test's temporary <see cref="CpuSimd.Limit"/>.</remarks>
    public static CpuMatKernel Kernel { get; } = ByLevel[(int)Clamp(CpuTuning.Current.LevelFor(TQuant.Type))];

    /// <summary>The kernel for <paramref name="level"/> (the best level at or below it that the format has a path for).</summary>
    public static CpuMatKernel At(SimdLevel level) =>
        (uint)level < (uint)ByLevel.Length ? ByLevel[(int)level] : throw new ArgumentOutOfRangeException(nameof(level), level, "not a SIMD level");

    private static SimdLevel Clamp(SimdLevel l) => l < CpuSimd.Supported ? l : CpuSimd.Supported;

    /// <summary>The kernel for the level the kernels use now (<see cref="CpuSimd.Level"/>).</summary>
    public static CpuMatKernel Current => ByLevel[(int)CpuSimd.Level];
}
