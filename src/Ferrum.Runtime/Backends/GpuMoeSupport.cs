using System.Diagnostics.CodeAnalysis;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends;

/// <summary>
/// Collects the reasons a GPU backend cannot run a layer: the checks the generated OpenCL and Metal kernels share
/// (<see cref="Common"/>), then each backend's own. Pure logic: no device is touched.
/// </summary>
/// <param name="layer">The layer under check.</param>
/// <param name="backend">"OpenCL" or "Metal", for messages.</param>
internal sealed class GpuMoeSupport(MoeLayer layer, string backend)
{
    private readonly List<string> _why = [];

    /// <summary>
    /// What both kernel sets lack or limit: sqrt-softplus gating, swiglu_oai constants other than gpt-oss's, a router
    /// that is not f32, more experts or experts per token than the routing kernel holds, gate and up with different
    /// expert strides, padded rows.
    /// </summary>
    public GpuMoeSupport Common(int maxExperts, int maxTopK)
    {
        var r = layer.Routing;
        if (r.Gating == MoeGating.SqrtSoftplus)
        {
            Add($"the sqrt-softplus gating function is not in the {backend} routing kernel");
        }

        if (r.Activation == MoeActivation.SwigluOai && (r.OaiAlpha != 1.702f || r.OaiLimit != 7f))
        {
            Add($"swiglu_oai with alpha {r.OaiAlpha} / limit {r.OaiLimit}: the {backend} kernels have gpt-oss's 1.702 / 7 built in");
        }

        if (layer.Router.Format != GgmlType.F32)
        {
            Add($"router weights '{layer.Router.TensorName}' are {layer.Router.Info.Name}; the {backend} routing kernel reads f32");
        }

        if (layer.Experts > maxExperts || layer.TopK > maxTopK)
        {
            Add($"{layer.Experts} experts, top-{layer.TopK}: the {backend} routing kernel holds at most {maxExperts} experts and top-{maxTopK}");
        }

        if (layer.Gate.ExpertStride != layer.Up.ExpertStride)
        {
            Add($"gate and up weights have different expert strides ({layer.Gate.ExpertStride}, {layer.Up.ExpertStride}); the {backend} kernels take one");
        }

        foreach (var (role, m) in new[] { ("gate", layer.Gate), ("up", layer.Up), ("down", layer.Down) })
        {
            if (m.RowStride != m.RowBytes)
            {
                Add($"{role} weights '{m.TensorName}' have padded rows (stride {m.RowStride}, row {m.RowBytes} bytes)");
            }
        }

        return this;
    }

    /// <summary>Refuses shared experts: "shared experts ('name', width) are not in the kernels yet".</summary>
    public GpuMoeSupport NoSharedExperts()
    {
        if (layer.HasSharedExpert)
        {
            Add($"shared experts ('{layer.SharedGate!.TensorName}', {layer.SharedFfn} wide) are not in the {backend} kernels yet");
        }

        return this;
    }

    /// <summary>Refuses group-limited expert selection (DeepSeek-V3's n_expert_groups / n_group_used).</summary>
    public GpuMoeSupport NoGroupLimitedRouting()
    {
        var r = layer.Routing;
        if (r.ExpertGroupCount > 1 && r.ExpertGroupsUsed < r.ExpertGroupCount)
        {
            Add($"group-limited expert selection ({r.ExpertGroupsUsed} of {r.ExpertGroupCount} groups) is not in the {backend} routing kernel");
        }

        return this;
    }

    /// <summary>
    /// What a shared expert run through the routed kernels as a one-expert block needs: shared gate and up of one
    /// format (one kernel reads both), unpadded rows, a shared FFN width that is a multiple of 32 (the down pass's
    /// reduction steps) and an f32 shared-expert gate input (read by the routing kernel).
    /// </summary>
    public GpuMoeSupport SharedExperts()
    {
        if (!layer.HasSharedExpert)
        {
            return this;
        }

        var (g, u, d) = (layer.SharedGate!, layer.SharedUp!, layer.SharedDown!);
        if (g.Format != u.Format)
        {
            Add($"shared gate '{g.TensorName}' is {g.Info.Name} and shared up '{u.TensorName}' is {u.Info.Name}; the {backend} kernels read both in one format");
        }

        foreach (var m in new[] { g, u, d })
        {
            if (m.RowStride != m.RowBytes)
            {
                Add($"shared expert weights '{m.TensorName}' have padded rows (stride {m.RowStride}, row {m.RowBytes} bytes)");
            }
        }

        if (layer.SharedFfn % 32 != 0)
        {
            Add($"the shared expert is {layer.SharedFfn} wide, not a multiple of the {backend} kernels' 32-element steps");
        }

        if (layer.SharedGateInput is { } inp && inp.Format != GgmlType.F32)
        {
            Add($"shared expert gate input '{inp.TensorName}' is {inp.Info.Name}; the {backend} routing kernel reads f32");
        }

        return this;
    }

    /// <summary>Expert biases the kernels add only as a gate and up pair.</summary>
    public GpuMoeSupport GateUpBiasPair()
    {
        if ((layer.GateBias == null) != (layer.UpBias == null))
        {
            var (have, lack) = layer.GateBias != null ? ("gate", "up") : ("up", "gate");
            Add($"the layer has a {have} expert bias without an {lack} bias; the {backend} kernels add them as a pair");
        }

        return this;
    }

    /// <summary>Biases the kernels do not add: "<paramref name="what"/> ('name', ...) are not in the kernels".</summary>
    public GpuMoeSupport Biases(string what, params ExpertStack?[] biases)
    {
        var present = biases.Where(b => b != null).Select(b => $"'{b!.TensorName}'").ToList();
        if (present.Count > 0)
        {
            Add($"{what} ({string.Join(", ", present)}) are not in the {backend} kernels yet");
        }

        return this;
    }

    /// <summary>A reason when <paramref name="sources"/> has neither the program specialized for the matrix nor the format's generic one.</summary>
    public void Program(MoeProgramSources sources, ExpertStack m, int rows, int rowLength, string missing)
    {
        if (MoePrograms.Resolve(sources, m.Format, rows, rowLength) is null)
        {
            Add(missing);
        }
    }

    /// <summary>Adds a reason.</summary>
    public void Add(string reason) => _why.Add(reason);

    /// <summary>True when no reason was found; otherwise the reasons joined by "; ".</summary>
    public bool Result([NotNullWhen(false)] out string? reason)
    {
        reason = _why.Count == 0 ? null : string.Join("; ", _why);
        return reason is null;
    }

    /// <summary>
    /// The matrices whose programs a GPU backend needs, with the shape each program is specialized for: gate (up shares
    /// its program) and down, and the shared expert's gate and down when present.
    /// </summary>
    public static IReadOnlyList<(string Role, ExpertStack M, int Rows, int RowLength)> ProgramMatrices(MoeLayer layer)
    {
        var matrices = new List<(string Role, ExpertStack M, int Rows, int RowLength)> { ("gate", layer.Gate, layer.ExpertFfn, layer.Hidden), ("down", layer.Down, layer.Hidden, layer.ExpertFfn) };
        if (layer.HasSharedExpert)
        {
            matrices.Add(("shared gate", layer.SharedGate!, layer.SharedFfn, layer.Hidden));
            matrices.Add(("shared down", layer.SharedDown!, layer.Hidden, layer.SharedFfn));
        }

        return matrices;
    }
}
