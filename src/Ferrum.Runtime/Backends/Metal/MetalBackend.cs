using System.Diagnostics.CodeAnalysis;
using Ferrum.Kernels;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends.Metal;

/// <summary>
/// The Metal backend: the generated MSL programs (kernels.yaml with <c>metal</c> in its targets) on one Apple GPU.
/// It runs routed experts with softmax, sigmoid or softmax-over-selected gating, renormalization, scale, a router
/// bias, a selection bias, group-limited selection, gate/up/down expert biases, SiLU or gpt-oss's swiglu_oai
/// and a shared expert with or without a sigmoid gate: every architecture of the CPU path (qwen3moe, qwen2moe, olmoe,
/// Mixtral, deepseek2, gpt-oss). It does not run sqrt-softplus gating (<see cref="CanRun"/> names what a layer needs
/// that it lacks).
/// Constructing it off macOS throws <see cref="PlatformNotSupportedException"/> ("Metal is available only on macOS");
/// <see cref="CanRun"/> is pure logic and answers on every OS.
/// </summary>
public sealed class MetalBackend : IMoeBackend, IDisposable
{
    private readonly bool _ownsDevice;

    /// <summary>The backend on <paramref name="device"/> (not owned), or on the system default GPU (owned) when null.</summary>
    /// <param name="device">The GPU; null for the system default.</param>
    /// <param name="sources">Program lookup; null for the programs generated into the loaded assemblies (<see cref="MoePrograms.Catalog"/>).</param>
    public MetalBackend(MetalDevice? device = null, MoeProgramSources? sources = null)
    {
        MetalPlatform.EnsureSupported();
        Sources = sources ?? MoePrograms.Catalog(KernelTarget.Metal);
        _ownsDevice = device is null;
        Device = device ?? MetalDevice.CreateSystemDefault();
    }

    /// <summary>The GPU the executors run on.</summary>
    public MetalDevice Device { get; }

    /// <summary>The program lookup.</summary>
    public MoeProgramSources Sources { get; }

    /// <inheritdoc/>
    public string Name => "metal";

    /// <inheritdoc/>
    public bool Supports(MoeLayer layer, [NotNullWhen(false)] out string? reason) => CanRun(layer, Sources, out reason);

    /// <inheritdoc/>
    public IMoeExecutor Create(MoeLayer layer) => new MetalMoeExecutor(layer, Sources, Device);

    /// <summary>Releases the device when the backend created it (after its executors are disposed).</summary>
    public void Dispose()
    {
        if (_ownsDevice)
        {
            Device.Dispose();
        }
    }

    /// <summary>
    /// True when the Metal kernels run <paramref name="layer"/> with the programs of <paramref name="sources"/> (null:
    /// the generated catalog); otherwise <paramref name="reason"/> lists everything the layer needs that they lack,
    /// separated by "; ". Pure logic, on every OS: no device is touched.
    /// </summary>
    public static bool CanRun(MoeLayer layer, MoeProgramSources? sources, [NotNullWhen(false)] out string? reason)
    {
        ArgumentNullException.ThrowIfNull(layer);
        sources ??= MoePrograms.Catalog(KernelTarget.Metal);
        var check = new GpuMoeSupport(layer, "Metal").Common(MetalMoePlan.MaxExperts, MetalMoePlan.MaxTopK).SharedExperts().GateUpBiasPair();
        if (layer.Routing.ExpertGroupCount > MetalMoePlan.MaxGroups && layer.Routing.ExpertGroupsUsed < layer.Routing.ExpertGroupCount)
        {
            check.Add($"{layer.Routing.ExpertGroupCount} expert groups: the Metal routing kernel holds at most {MetalMoePlan.MaxGroups}");
        }

        foreach (var (role, m, rows, rowLength) in GpuMoeSupport.ProgramMatrices(layer))
        {
            var name = m.Info.Name;
            var multiple = Math.Max(m.Info.BlockSize, MetalMoePlan.Tile);
            if (m.RowLength % multiple != 0 || m.Rows % MetalMoePlan.Tile != 0)
            {
                check.Add($"{role} weights '{m.TensorName}': the Metal kernels need row lengths that are multiples of {multiple} and row counts that are multiples of {MetalMoePlan.Tile} (got [{m.RowLength}, {m.Rows}])");
            }

            check.Program(sources, m, rows, rowLength, $"no Metal kernel source for {name} {role} weights ('{m.TensorName}') in the loaded assemblies: list {name} under 'formats:' and 'metal' under 'targets:' in kernels.yaml");
        }

        return check.Result(out reason);
    }
}
