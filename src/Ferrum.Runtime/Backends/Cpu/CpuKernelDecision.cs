using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>One candidate kernel's measured time on this CPU, for the products in <see cref="CpuKernelTuner"/>.</summary>
/// <param name="Level">The candidate's SIMD level.</param>
/// <param name="Microseconds1">Time of the 1-token products (rows of 2048 and of 768, summed), in µs.</param>
/// <param name="Microseconds8">Time of the 8-token products (summed likewise), or null when the candidate was dropped after the 1-token round.</param>
public sealed record CpuKernelTiming(SimdLevel Level, double Microseconds1, double? Microseconds8);

/// <summary>The kernel chosen for one weight format, with the timings of every candidate measured (fastest first).</summary>
/// <param name="Format">The weight format.</param>
/// <param name="Level">The SIMD level of the chosen kernel.</param>
/// <param name="Candidates">Every candidate's timing; empty when the format has one kernel on this machine (nothing to measure).</param>
public sealed record CpuKernelDecision(GgmlType Format, SimdLevel Level, IReadOnlyList<CpuKernelTiming> Candidates)
{
    /// <summary>The ggml name of the format (q4_K, f16...).</summary>
    public string FormatName => GgmlTypeInfo.Get(Format).Name;
}

/// <summary>Every decision of one tuning run and what it is valid for.</summary>
/// <param name="Identity">The CPU and Ferrum version measured.</param>
/// <param name="MeasuredUtc">When it was measured.</param>
/// <param name="WeightBytes">Bytes of weights each timed product streams (bigger than L2).</param>
/// <param name="Decisions">One decision per measured format.</param>
public sealed record CpuTuningResult(CpuIdentity Identity, DateTime MeasuredUtc, long WeightBytes, IReadOnlyList<CpuKernelDecision> Decisions)
{
    /// <summary>The decision for <paramref name="type"/>, or null.</summary>
    public CpuKernelDecision? For(GgmlType type) => Decisions.FirstOrDefault(d => d.Format == type);
}
