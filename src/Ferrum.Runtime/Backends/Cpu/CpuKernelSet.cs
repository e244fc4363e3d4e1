using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The kernels a <see cref="CpuMoeExecutor"/> runs, per role. Generated model types pass their shape-specialized
/// kernels here, bound at compile time; a null role, or a kernel whose format or row length does not fit the layer,
/// falls back to the best kernel for this machine (<see cref="CpuKernels.Get(Ferrum.Quantization.GgmlType)"/>).
/// </summary>
public sealed record CpuKernelSet
{
    /// <summary>No bound kernels: every role uses the best kernel for its format on this machine.</summary>
    public static CpuKernelSet Default { get; } = new();

    /// <summary>Router kernel, or null.</summary>
    public CpuMatKernel? Router { get; init; }

    /// <summary>Gate kernel, or null.</summary>
    public CpuMatKernel? Gate { get; init; }

    /// <summary>Up kernel, or null.</summary>
    public CpuMatKernel? Up { get; init; }

    /// <summary>Down kernel, or null.</summary>
    public CpuMatKernel? Down { get; init; }

    /// <summary>
    /// <paramref name="bound"/> when it fits a matrix of <paramref name="type"/> with rows of <paramref name="k"/>
    /// and <paramref name="pins"/> do not pin the format; else the generic kernel (<see cref="CpuKernels.Get(GgmlType, CpuKernelPins?)"/>).
    /// </summary>
    internal CpuMatKernel Pick(CpuMatKernel? bound, GgmlType type, int k, CpuKernelPins? pins = null) =>
        bound != null && pins?.For(type) is null && bound.WeightType == type && (bound.FixedK == 0 || bound.FixedK == k) && bound.Level <= CpuSimd.Level
            ? bound
            : CpuKernels.Get(type, pins);
}
