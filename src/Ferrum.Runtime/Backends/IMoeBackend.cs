using System.Diagnostics.CodeAnalysis;
using Ferrum.Moe;

namespace Ferrum.Backends;

/// <summary>
/// A backend that runs MoE blocks (as ggml's backend interface with <c>supports_op</c>): it says whether it can run a
/// layer, and why not, and creates an <see cref="IMoeExecutor"/> for it. Implemented by
/// <see cref="Cpu.CpuBackend"/>, <see cref="OpenCL.OpenCLBackend"/> and <see cref="Metal.MetalBackend"/>.
/// </summary>
public interface IMoeBackend
{
    /// <summary>The backend's name: "cpu", "opencl" or "metal".</summary>
    string Name { get; }

    /// <summary>True when this backend runs <paramref name="layer"/>; otherwise <paramref name="reason"/> says what it lacks.</summary>
    bool Supports(MoeLayer layer, [NotNullWhen(false)] out string? reason);

    /// <summary>An executor for <paramref name="layer"/>; <see cref="NotSupportedException"/> with the reason when <see cref="Supports"/> is false.</summary>
    IMoeExecutor Create(MoeLayer layer);
}
