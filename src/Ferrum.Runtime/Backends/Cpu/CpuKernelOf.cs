using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The best CPU kernel for the format <typeparamref name="TQuant"/> on this machine, chosen once per process and held
/// in a static of this generic class: code that knows its format as a type (generated model types, typed expert
/// stacks) binds its kernel with no lookup at all.
/// </summary>
/// <typeparam name="TQuant">The format marker, e.g. <see cref="Q4_K"/>.</typeparam>
public static class CpuKernelOf<TQuant>
    where TQuant : IQuantFormat
{
    /// <summary>The kernel (SIMD level from <see cref="CpuSimd.Level"/>).</summary>
    public static CpuMatKernel Kernel { get; } = CpuKernels.Generic(TQuant.Type, CpuSimd.Level);
}
