using System.Diagnostics.CodeAnalysis;
using Ferrum.Moe;

namespace Ferrum.Backends.Cpu;

/// <summary>The CPU backend: SIMD kernels for every format in <see cref="CpuKernels.Formats"/>, every routing rule.</summary>
/// <param name="options">Threads, batch size and worker pool of the executors it creates.</param>
/// <param name="kernels">Kernels bound per role (generated code passes its specialized ones); null for the best generic ones.</param>
public sealed class CpuBackend(CpuMoeOptions? options = null, CpuKernelSet? kernels = null) : IMoeBackend
{
    /// <summary>The CPU backend with default options.</summary>
    public static CpuBackend Default { get; } = new();

    /// <summary>The executors' options.</summary>
    public CpuMoeOptions Options { get; } = options ?? new CpuMoeOptions();

    /// <summary>The kernels bound per role.</summary>
    public CpuKernelSet Kernels { get; } = kernels ?? CpuKernelSet.Default;

    /// <inheritdoc/>
    public string Name => "cpu";

    /// <inheritdoc/>
    public bool Supports(MoeLayer layer, [NotNullWhen(false)] out string? reason) => CanRun(layer, out reason);

    /// <inheritdoc/>
    public IMoeExecutor Create(MoeLayer layer) => new CpuMoeExecutor(layer, Options, Kernels);

    /// <summary>The CPU backend with other options, the same bound kernels.</summary>
    public CpuBackend With(CpuMoeOptions options) => new(options, Kernels);

    internal static bool CanRun(MoeLayer layer, [NotNullWhen(false)] out string? reason)
    {
        ArgumentNullException.ThrowIfNull(layer);
        foreach (var (role, stack) in layer.Matrices())
        {
            if (!CpuKernels.Supports(stack.Format))
            {
                reason = $"{role} weights '{stack.TensorName}' are {stack.Info.Name}, which has no CPU kernel";
                return false;
            }

            if (stack.RowStride != stack.RowBytes)
            {
                reason = $"{role} weights '{stack.TensorName}' have padded rows (stride {stack.RowStride}, row {stack.RowBytes} bytes)";
                return false;
            }
        }

        if (layer.Routing.Gating == MoeGating.SqrtSoftplus)
        {
            reason = "the sqrt-softplus gating function is not implemented";
            return false;
        }

        if (layer.HasSharedExpert && GgmlActivation(layer.SharedGate!) != GgmlActivation(layer.SharedUp!))
        {
            reason = $"shared expert: gate ({layer.SharedGate!.Info.Name}) and up ({layer.SharedUp!.Info.Name}) need the same activation type";
            return false;
        }

        reason = null;
        return true;
    }

    private static Quantization.GgmlType GgmlActivation(ExpertStack s) =>
        s.Format is Quantization.GgmlType.F32 or Quantization.GgmlType.F16 or Quantization.GgmlType.BF16 ? Quantization.GgmlType.F32 : s.Info.ActivationType;
}
