using System.Diagnostics.CodeAnalysis;
using Ferrum.Kernels;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends.OpenCL;

/// <summary>
/// The OpenCL backend: the generated OpenCL programs (kernels.yaml with <c>opencl</c> in its targets) on one device.
/// It runs routed experts of every format in <see cref="SupportedFormats"/> with softmax, sigmoid or
/// softmax-over-selected gating, renormalization, scale, a router bias, a selection bias (exp_probs_b), group-limited
/// expert selection, gate/up/down expert biases, SiLU or gpt-oss's swiglu_oai, and a shared expert with or without a
/// sigmoid gate: every architecture the CPU path runs (qwen3moe, qwen2moe, olmoe, Mixtral, deepseek2, gpt-oss). It
/// does not run sqrt-softplus gating (<see cref="Supports"/> names what a layer needs that it lacks).
/// </summary>
/// <param name="context">The device context the executors run on (not owned: the caller disposes it after them).</param>
/// <param name="sources">Program lookup; null for the programs generated into the loaded assemblies (<see cref="MoePrograms.Catalog"/>).</param>
/// <param name="options">Tuning of the executors; null for defaults.</param>
public sealed class OpenCLBackend(OpenCLContext context, MoeProgramSources? sources = null, OpenCLMoeOptions? options = null) : IMoeBackend
{
    /// <summary>Most routed experts the routing kernel holds.</summary>
    public const int MaxExperts = 512;

    /// <summary>Most experts per token the routing kernel holds.</summary>
    public const int MaxTopK = 64;

    /// <summary>The device context.</summary>
    public OpenCLContext Context { get; } = context ?? throw new ArgumentNullException(nameof(context));

    /// <summary>The program lookup.</summary>
    public MoeProgramSources Sources { get; } = sources ?? MoePrograms.Catalog(KernelTarget.OpenCL);

    /// <summary>The executors' tuning.</summary>
    public OpenCLMoeOptions Options { get; } = options ?? new OpenCLMoeOptions();

    /// <summary>Formats the generated OpenCL kernels decode: every format row (each has a GPU decode description in the generator).</summary>
    public static IReadOnlyList<GgmlType> SupportedFormats { get; } = Quantization.Formats.FormatRow.Types;

    /// <inheritdoc/>
    public string Name => "opencl";

    /// <inheritdoc/>
    public bool Supports(MoeLayer layer, [NotNullWhen(false)] out string? reason) => CanRun(layer, Sources, out reason);

    /// <inheritdoc/>
    public IMoeExecutor Create(MoeLayer layer) => new OpenCLMoeExecutor(Context, layer, Sources, Options);

    /// <summary>
    /// True when the OpenCL kernels run <paramref name="layer"/> with the programs of <paramref name="sources"/>;
    /// otherwise <paramref name="reason"/> lists everything the layer needs that they lack, separated by "; ".
    /// Pure logic: no device is touched.
    /// </summary>
    public static bool CanRun(MoeLayer layer, MoeProgramSources sources, [NotNullWhen(false)] out string? reason)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(sources);
        var check = new GpuMoeSupport(layer, "OpenCL").Common(MaxExperts, MaxTopK).SharedExperts().GateUpBiasPair();
        foreach (var (role, m, rows, rowLength) in GpuMoeSupport.ProgramMatrices(layer))
        {
            var name = m.Info.Name;
            if (!SupportedFormats.Contains(m.Format))
            {
                check.Add($"{role} weights '{m.TensorName}' are {name}, which the OpenCL kernels do not decode (supported: {string.Join(", ", SupportedFormats.Select(t => GgmlTypeInfo.Get(t).Name))})");
                continue;
            }

            if (m.RowLength % 32 != 0)
            {
                check.Add($"{role} weights '{m.TensorName}' have rows of {m.RowLength} elements, not a multiple of the kernels' 32-element steps");
            }

            check.Program(sources, m, rows, rowLength, $"no generated OpenCL program '{OpenCLProgramNames.Generic(m.Format)}' for {name} {role} weights: add {name} to kernels.yaml (targets: [opencl], and formats: or a model's roles)");
        }

        return check.Result(out reason);
    }
}
