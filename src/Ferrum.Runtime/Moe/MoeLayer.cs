using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Moe;

/// <summary>
/// The one description of an MoE block that every backend consumes: the router, the routed expert stacks (gate, up,
/// down), optional biases (gpt-oss), the selection bias (DeepSeek-V3 exp_probs_b), the optional shared expert
/// (qwen2moe, DeepSeek) and the routing with its per-architecture rules. Every matrix is an <see cref="ExpertStack"/>
/// typed by its format; a plain matrix is a stack of one expert; a bias is a stack of one-row f32 "experts".
/// <para>From a GGUF file, <see cref="Load"/> is the one loader: zero-copy over the mapping, holding a lease on it,
/// so the views stay valid until this object is disposed (whether or not the file is). Built in code, the memory the
/// views wrap must outlive the layer and every executor made from it.</para>
/// <para>Thread safety: the layer is immutable, so any number of executors on any threads may read it at once; each
/// executor runs one Forward at a time (a concurrent call is refused, never run on shared scratch). After
/// <see cref="Dispose"/> the weight views and <see cref="AcquireMemoryLease"/> throw <see cref="ObjectDisposedException"/>,
/// while executors made earlier keep working on their own leases.</para>
/// </summary>
public sealed class MoeLayer : IDisposable
{
    private GgufMappingLease? _lease;
    private int _disposed;

    /// <summary>The layer index (the N of blk.N); 0 for a layer built in code.</summary>
    public int Index { get; init; }

    /// <summary>Where the layer comes from (the GGUF path), for messages.</summary>
    public string Source { get; init; } = "memory";

    /// <summary>The architecture (general.architecture) whose rules <see cref="Routing"/> follows.</summary>
    public string Architecture { get; init; } = "qwen3moe";

    /// <summary>Routing and combination settings.</summary>
    public required MoeRouting Routing { get; init; }

    /// <summary>Router ffn_gate_inp: one expert of <see cref="Experts"/> rows × <see cref="Hidden"/>.</summary>
    public required ExpertStack Router { get; init; }

    /// <summary>Gate projections: per expert, <see cref="ExpertFfn"/> rows × <see cref="Hidden"/>.</summary>
    public required ExpertStack Gate { get; init; }

    /// <summary>Up projections: per expert, <see cref="ExpertFfn"/> rows × <see cref="Hidden"/>.</summary>
    public required ExpertStack Up { get; init; }

    /// <summary>Down projections: per expert, <see cref="Hidden"/> rows × <see cref="ExpertFfn"/>.</summary>
    public required ExpertStack Down { get; init; }

    /// <summary>True when gate and up are the two halves of one fused ffn_gate_up_exps tensor.</summary>
    public bool FusedGateUp { get; init; }

    /// <summary>Router bias [experts] (gpt-oss ffn_gate_inp.bias): one row of <see cref="Experts"/> f32, or null.</summary>
    public ExpertStack? RouterBias { get; init; }

    /// <summary>Selection bias [experts] (exp_probs_b.bias), added for the top-K choice only, or null.</summary>
    public ExpertStack? SelectionBias { get; init; }

    /// <summary>Gate bias: per expert one row of <see cref="ExpertFfn"/> f32, or null.</summary>
    public ExpertStack? GateBias { get; init; }

    /// <summary>Up bias: per expert one row of <see cref="ExpertFfn"/> f32, or null.</summary>
    public ExpertStack? UpBias { get; init; }

    /// <summary>Down bias: per expert one row of <see cref="Hidden"/> f32, or null.</summary>
    public ExpertStack? DownBias { get; init; }

    /// <summary>Shared expert gate [hidden → shared FFN], or null.</summary>
    public ExpertStack? SharedGate { get; init; }

    /// <summary>Shared expert up [hidden → shared FFN], or null.</summary>
    public ExpertStack? SharedUp { get; init; }

    /// <summary>Shared expert down [shared FFN → hidden], or null.</summary>
    public ExpertStack? SharedDown { get; init; }

    /// <summary>qwen2moe's shared-expert gate (ffn_gate_inp_shexp, one row of hidden): shared output × sigmoid(this · x); null = weight 1.</summary>
    public ExpertStack? SharedGateInput { get; init; }

    /// <summary>Hidden size (n_embd).</summary>
    public int Hidden => Router.RowLength;

    /// <summary>Routed expert FFN size.</summary>
    public int ExpertFfn => Gate.Rows;

    /// <summary>Routed experts.</summary>
    public int Experts => Gate.Experts;

    /// <summary>Experts per token (K).</summary>
    public int TopK => Routing.ExpertsPerToken;

    /// <summary>True when a shared expert is present.</summary>
    public bool HasSharedExpert => SharedGate != null;

    /// <summary>Shared expert FFN size; 0 without one.</summary>
    public int SharedFfn => SharedGate?.Rows ?? 0;

    /// <summary>True when any router or expert bias is present (gpt-oss).</summary>
    public bool HasBiases => RouterBias != null || GateBias != null || UpBias != null || DownBias != null;

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Every matrix with its role, for listings and capability checks.</summary>
    public IEnumerable<(string Role, ExpertStack Stack)> Matrices()
    {
        yield return ("router", Router);
        yield return ("gate", Gate);
        yield return ("up", Up);
        yield return ("down", Down);
        if (SharedGate != null)
        {
            yield return ("shared gate", SharedGate);
            yield return ("shared up", SharedUp!);
            yield return ("shared down", SharedDown!);
        }

        if (SharedGateInput != null)
        {
            yield return ("shared gate input", SharedGateInput);
        }
    }

    /// <summary>
    /// Checks that every shape agrees with the router and the routing, and that the routing can run; throws
    /// <see cref="ArgumentException"/> naming the tensor or setting that does not.
    /// </summary>
    public void Validate()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Routing.Validate(Source);
        int h = Hidden, f = ExpertFfn, e = Routing.ExpertCount;
        Check(Router, e, h, 1);
        Check(Gate, f, h, e);
        Check(Up, f, h, e);
        Check(Down, h, f, e);
        if (Gate.Format != Up.Format)
        {
            throw new ArgumentException($"{Source}: {Gate.TensorName} ({Gate.Info.Name}) and {Up.TensorName} ({Up.Info.Name}) must share a weight type");
        }

        if ((SharedGate == null) != (SharedUp == null) || (SharedGate == null) != (SharedDown == null))
        {
            throw new ArgumentException($"{Source}: shared expert: gate, up and down must all be present or all absent");
        }

        if (SharedGate != null)
        {
            int fs = SharedGate.Rows;
            Check(SharedGate, fs, h, 1);
            Check(SharedUp!, fs, h, 1);
            Check(SharedDown!, h, fs, 1);
            if (Routing.Activation == MoeActivation.SwigluOai)
            {
                throw new ArgumentException($"{Source}: swiglu_oai with a shared expert is not a known architecture");
            }
        }

        CheckVector(SharedGateInput, 1, h);
        CheckVector(RouterBias, 1, e);
        CheckVector(SelectionBias, 1, e);
        CheckVector(GateBias, e, f);
        CheckVector(UpBias, e, f);
        CheckVector(DownBias, e, h);
    }

    /// <summary>
    /// A lease that keeps the layer's memory mapped after this layer (and its file) are disposed; null for a layer
    /// built in code over caller memory. Executors hold one for their lifetime.
    /// </summary>
    public IDisposable? AcquireMemoryLease()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return _lease?.Duplicate();
    }

    /// <summary>
    /// Loads the MoE block of layer <paramref name="layer"/>: router <c>blk.N.ffn_gate_inp.weight</c> (+ <c>.bias</c>),
    /// experts <c>ffn_{gate,up,down}_exps.weight</c> or the fused <c>ffn_gate_up_exps.weight</c> (gate rows first), expert
    /// biases, <c>exp_probs_b.bias</c>, shared expert <c>ffn_{gate,up,down}_shexp.weight</c> and
    /// <c>ffn_gate_inp_shexp.weight</c>; routing from the metadata. <see cref="GgufException"/> naming the tensor or
    /// key when one is missing, malformed or inconsistent.
    /// </summary>
    public static MoeLayer Load(GgufFile file, int layer)
    {
        ArgumentNullException.ThrowIfNull(file);
        var hp = file.GetMoeHyperParameters();
        if (layer < 0 || layer >= hp.BlockCount)
        {
            throw new GgufException($"{file.Path}: layer {layer} is out of range (block_count {hp.BlockCount})");
        }

        if (!hp.IsMoeLayer(layer))
        {
            throw new GgufException($"{file.Path}: layer {layer} is a dense layer (leading_dense_block_count {hp.LeadingDenseBlockCount}), not an MoE block");
        }

        MoeRouting routing;
        try
        {
            routing = MoeRouting.FromHyperParameters(hp);
        }
        catch (ArgumentException ex)
        {
            throw new GgufException(ex.Message);
        }

        var lease = file.AcquireLease();
        try
        {
            var loader = new Loader(file, lease, layer);
            int h = hp.EmbeddingLength, e = hp.ExpertCount;
            var router = loader.Matrix("ffn_gate_inp.weight", e, h, 1);
            ExpertStack gate, up;
            bool fused = loader.Has("ffn_gate_up_exps.weight");
            if (fused)
            {
                (gate, up) = loader.FusedGateUp("ffn_gate_up_exps.weight", h, e);
            }
            else
            {
                gate = loader.Matrix("ffn_gate_exps.weight", -1, h, e);
                up = loader.Matrix("ffn_up_exps.weight", gate.Rows, h, e);
            }

            int f = gate.Rows;
            ExpertStack? shGate = null, shUp = null, shDown = null;
            if (loader.Has("ffn_gate_shexp.weight"))
            {
                shGate = loader.Matrix("ffn_gate_shexp.weight", -1, h, 1);
                shUp = loader.Matrix("ffn_up_shexp.weight", shGate.Rows, h, 1);
                shDown = loader.Matrix("ffn_down_shexp.weight", h, shGate.Rows, 1);
            }

            var result = new MoeLayer
            {
                Index = layer,
                Source = file.Path,
                Architecture = hp.Architecture,
                Routing = routing,
                Router = router,
                Gate = gate,
                Up = up,
                Down = loader.Matrix("ffn_down_exps.weight", h, f, e),
                FusedGateUp = fused,
                RouterBias = loader.Vector("ffn_gate_inp.bias", 1, e),
                SelectionBias = loader.Vector("exp_probs_b.bias", 1, e),
                GateBias = loader.Vector("ffn_gate_exps.bias", e, f),
                UpBias = loader.Vector("ffn_up_exps.bias", e, f),
                DownBias = loader.Vector("ffn_down_exps.bias", e, h),
                SharedGate = shGate,
                SharedUp = shUp,
                SharedDown = shDown,
                SharedGateInput = loader.Has("ffn_gate_inp_shexp.weight") ? loader.Matrix("ffn_gate_inp_shexp.weight", 1, h, 1) : null,
                _lease = lease,
            };
            try
            {
                result.Validate();
            }
            catch (ArgumentException ex)
            {
                throw new GgufException(ex.Message);
            }

            return result;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Releases the lease on the mapping (a no-op for a layer built in code). Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Interlocked.Exchange(ref _lease, null)?.Dispose();
        }
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Source} layer {Index} ({Architecture}): {Experts} experts of {Hidden} → {ExpertFfn} → {Hidden}, top-{TopK}; " +
        $"gate/up {Gate.Info.Name}, down {Down.Info.Name}{(HasSharedExpert ? $", shared expert {SharedFfn}" : string.Empty)}";

    private void Check(ExpertStack m, int rows, int rowLength, int experts)
    {
        if (m.Rows != rows || m.RowLength != rowLength || m.Experts != experts)
        {
            throw new ArgumentException($"{Source}: {m.TensorName}: shape [{m.RowLength}, {m.Rows}, {m.Experts}] does not match the expected [{rowLength}, {rows}, {experts}]");
        }
    }

    private void CheckVector(ExpertStack? v, int experts, int length)
    {
        if (v == null)
        {
            return;
        }

        if (v.Format != GgmlType.F32)
        {
            throw new ArgumentException($"{Source}: {v.TensorName} must be f32, found {v.Info.Name}");
        }

        Check(v, 1, length, experts);
    }

    // Reads blk.N.* tensors as stacks over the lease, turning shape and format problems into GgufExceptions.
    private sealed class Loader(GgufFile file, GgufMappingLease lease, int layer)
    {
        private readonly string prefix = $"blk.{layer}.";

        public bool Has(string name) => file.TryGetTensor(prefix + name, out _);

        // rows = -1: taken from the tensor.
        public ExpertStack Matrix(string name, int rows, int rowLength, int experts)
        {
            var t = file.GetTensor(prefix + name);
            long ne0 = t.Shape[0], ne1 = t.Dimensions > 1 ? t.Shape[1] : 1, ne2 = t.Dimensions > 2 ? t.Shape[2] : 1;
            if (t.Dimensions > 3 || ne0 != rowLength || (rows >= 0 && ne1 != rows) || ne2 != experts || ne1 > int.MaxValue)
            {
                throw new GgufException($"{file.Path}: tensor '{t.Name}' has shape {t.ShapeString}, expected [{rowLength}, {(rows >= 0 ? rows : "n")}{(experts > 1 ? $", {experts}" : string.Empty)}]");
            }

            return Stack(t, 0, (int)ne1, experts, t.Stride(2));
        }

        public (ExpertStack Gate, ExpertStack Up) FusedGateUp(string name, int hidden, int experts)
        {
            var t = file.GetTensor(prefix + name);
            if (t.Dimensions != 3 || t.Shape[0] != hidden || t.Shape[2] != experts || t.Shape[1] % 2 != 0 || t.Shape[1] > int.MaxValue)
            {
                throw new GgufException($"{file.Path}: tensor '{t.Name}' has shape {t.ShapeString}, expected [{hidden}, 2·n_ff, {experts}]");
            }

            // Per expert, the n_ff gate rows then the n_ff up rows: two stacks with the tensor's expert stride.
            int f = (int)(t.Shape[1] / 2);
            return (Stack(t, 0, f, experts, t.Stride(2), "[gate]"), Stack(t, f * t.RowBytes, f, experts, t.Stride(2), "[up]"));
        }

        public ExpertStack? Vector(string name, int experts, int length)
        {
            if (!file.TryGetTensor(prefix + name, out var t))
            {
                return null;
            }

            if (t.Type != GgmlType.F32 || t.ElementCount != (long)experts * length)
            {
                throw new GgufException($"{file.Path}: tensor '{t.Name}' must be f32 with {(long)experts * length} elements, found {t.TypeInfo.Name} with {t.ElementCount}");
            }

            return Stack(t, 0, 1, experts, length * 4L);
        }

        private ExpertStack Stack(GgufTensorInfo t, long offset, int rows, int experts, long expertStride, string part = "")
        {
            try
            {
                return ExpertStack.Create(t.Type, new GgufWeightBytes(lease, t), t.Name + part, offset, experts, rows, (int)t.Shape[0], t.RowBytes, expertStride);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                throw new GgufException($"{file.Path}: {ex.Message}");
            }
        }
    }
}
