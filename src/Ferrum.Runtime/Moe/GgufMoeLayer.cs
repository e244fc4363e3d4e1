using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Moe;

/// <summary>
/// The MoE block of one layer of a GGUF file, viewed zero-copy over the file mapping (llama.cpp tensor names):
/// router <c>blk.N.ffn_gate_inp.weight</c> (+ <c>.bias</c>), experts <c>ffn_{gate,up,down}_exps.weight</c> or the fused
/// <c>ffn_gate_up_exps.weight</c> (gate rows first), expert biases, <c>exp_probs_b.bias</c>, shared expert
/// <c>ffn_{gate,up,down}_shexp.weight</c> and <c>ffn_gate_inp_shexp.weight</c>. Routing comes from the metadata.
/// Holds a lease on the mapping, so the weights stay valid until this object is disposed.
/// </summary>
public sealed unsafe class GgufMoeLayer : IDisposable
{
    private readonly GgufMappingLease _lease;

    private GgufMoeLayer(GgufMappingLease lease, int layer, MoeHyperParameters hp, MoeLayerWeights weights, MoeRouting routing, bool fused)
    {
        _lease = lease;
        Layer = layer;
        HyperParameters = hp;
        Weights = weights;
        Routing = routing;
        FusedGateUp = fused;
    }

    /// <summary>The layer index.</summary>
    public int Layer { get; }

    /// <summary>The model's MoE hyperparameters.</summary>
    public MoeHyperParameters HyperParameters { get; }

    /// <summary>The block's tensors.</summary>
    public MoeLayerWeights Weights { get; }

    /// <summary>Routing settings from the metadata.</summary>
    public MoeRouting Routing { get; }

    /// <summary>True when gate and up came from one fused ffn_gate_up_exps tensor.</summary>
    public bool FusedGateUp { get; }

    /// <summary>Loads layer <paramref name="layer"/>; <see cref="GgufException"/> naming the tensor when one is missing or malformed.</summary>
    public static GgufMoeLayer Load(GgufFile file, int layer)
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

        var routing = RoutingOf(hp, file.Path);
        var lease = file.AcquireLease();
        try
        {
            string p = $"blk.{layer}.";
            int h = hp.EmbeddingLength, e = hp.ExpertCount;
            var router = Matrix(file, p + "ffn_gate_inp.weight", h, e, 1);
            MoeMatrix gate, up;
            bool fused = file.TryGetTensor(p + "ffn_gate_up_exps.weight", out _);
            if (fused)
            {
                var gu = Matrix(file, p + "ffn_gate_up_exps.weight", h, -1, e);
                (gate, up) = gu.SplitGateUp();
            }
            else
            {
                gate = Matrix(file, p + "ffn_gate_exps.weight", h, -1, e);
                up = Matrix(file, p + "ffn_up_exps.weight", h, gate.Rows, e);
            }

            int f = gate.Rows;
            var down = Matrix(file, p + "ffn_down_exps.weight", f, h, e);
            MoeMatrix? shGate = null, shUp = null, shDown = null, shInp = null;
            if (file.TryGetTensor(p + "ffn_gate_shexp.weight", out _))
            {
                shGate = Matrix(file, p + "ffn_gate_shexp.weight", h, -1, 1);
                shUp = Matrix(file, p + "ffn_up_shexp.weight", h, shGate.Rows, 1);
                shDown = Matrix(file, p + "ffn_down_shexp.weight", shGate.Rows, h, 1);
            }

            if (file.TryGetTensor(p + "ffn_gate_inp_shexp.weight", out _))
            {
                shInp = Matrix(file, p + "ffn_gate_inp_shexp.weight", h, 1, 1);
            }

            var weights = new MoeLayerWeights
            {
                Router = router,
                RouterBias = Vector(file, p + "ffn_gate_inp.bias", e),
                SelectionBias = Vector(file, p + "exp_probs_b.bias", e),
                Gate = gate,
                Up = up,
                Down = down,
                GateBias = Vector(file, p + "ffn_gate_exps.bias", (long)f * e),
                UpBias = Vector(file, p + "ffn_up_exps.bias", (long)f * e),
                DownBias = Vector(file, p + "ffn_down_exps.bias", (long)h * e),
                SharedGate = shGate,
                SharedUp = shUp,
                SharedDown = shDown,
                SharedGateInput = shInp,
            };
            weights.Validate(routing);
            return new GgufMoeLayer(lease, layer, hp, weights, routing, fused);
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>The routing llama.cpp applies for the file's architecture and metadata.</summary>
    public static MoeRouting RoutingOf(MoeHyperParameters hp, string source)
    {
        ArgumentNullException.ThrowIfNull(hp);
        var gating = hp.GatingFunction switch
        {
            ExpertGatingFunction.Softmax or ExpertGatingFunction.None => MoeGating.Softmax,
            ExpertGatingFunction.Sigmoid => MoeGating.Sigmoid,
            ExpertGatingFunction.SoftmaxWeight => MoeGating.SoftmaxOverSelected,
            var g => throw new GgufException($"{source}: expert gating function {g} is not supported by the CPU MoE forward"),
        };
        return new MoeRouting
        {
            ExpertCount = hp.ExpertCount,
            ExpertsPerToken = hp.ExpertUsedCount,
            Gating = gating,
            NormalizeWeights = hp.ExpertWeightsNorm,
            WeightScale = hp.ExpertWeightsScale,
            ExpertGroupCount = hp.ExpertGroupCount,
            ExpertGroupsUsed = hp.ExpertGroupUsedCount,
            Activation = hp.Architecture == "gpt-oss" ? MoeActivation.SwigluOai : MoeActivation.SiluGlu,
        };
    }

    // rows = -1: taken from the tensor (checked against the other dimensions).
    private static MoeMatrix Matrix(GgufFile file, string name, int columns, int rows, int experts)
    {
        var t = file.GetTensor(name);
        long ne0 = t.Shape[0], ne1 = t.Dimensions > 1 ? t.Shape[1] : 1, ne2 = t.Dimensions > 2 ? t.Shape[2] : 1;
        if (t.Dimensions > 3 || ne0 != columns || (rows >= 0 && ne1 != rows) || ne2 != experts || ne1 > int.MaxValue)
        {
            throw new GgufException($"{file.Path}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{columns}, {(rows >= 0 ? rows : "n")}{(experts > 1 ? $", {experts}" : string.Empty)}]");
        }

        try
        {
            return new MoeMatrix(name, t.Type, file.GetTensorPointer(t), columns, (int)ne1, experts, t.Stride(2));
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            throw new GgufException($"{file.Path}: {ex.Message}");
        }
    }

    private static float* Vector(GgufFile file, string name, long elements)
    {
        if (!file.TryGetTensor(name, out var t))
        {
            return null;
        }

        if (t.Type != GgmlType.F32 || t.ElementCount != elements)
        {
            throw new GgufException($"{file.Path}: tensor '{name}' must be f32 with {elements} elements, found {t.TypeInfo.Name} with {t.ElementCount}");
        }

        return (float*)file.GetTensorPointer(t);
    }

    /// <summary>Releases the lease on the mapping.</summary>
    public void Dispose() => _lease.Dispose();
}
