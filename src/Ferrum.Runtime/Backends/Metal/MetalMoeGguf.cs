using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Backends.Metal;

/// <summary>Builds the Metal executor's inputs for one MoE block of a GGUF file (llama.cpp tensor names).</summary>
public static unsafe class MetalMoeGguf
{
    /// <summary>
    /// The weights and routing of block <paramref name="layer"/>. Throws naming the tensor or the feature when the block
    /// needs something the Metal kernels do not do (shared experts, expert biases, group-limited routing, sqrt-softplus).
    /// </summary>
    public static (MetalMoeWeights Weights, MetalMoeRouting Routing) Load(GgufFile file, int layer)
    {
        ArgumentNullException.ThrowIfNull(file);
        var hp = file.GetMoeHyperParameters();
        if (!hp.IsMoeLayer(layer))
        {
            throw new ArgumentOutOfRangeException(nameof(layer), $"block {layer} of {file.Path} is not an MoE block (MoE blocks are {hp.LeadingDenseBlockCount}..{hp.BlockCount - 1})");
        }

        var p = $"blk.{layer}.";
        foreach (var unsupported in new[] { "ffn_gate_shexp.weight", "ffn_gate_exps.bias", "ffn_up_exps.bias", "ffn_down_exps.bias", "ffn_gate_up_exps.bias" })
        {
            if (file.TryGetTensor(p + unsupported, out _))
            {
                throw new NotSupportedException($"{p + unsupported}: the Metal kernels do not implement shared experts or expert biases yet; use --backend cpu");
            }
        }

        if (hp.ExpertGroupCount > 1)
        {
            throw new NotSupportedException($"{file.Path}: group-limited routing ({hp.ExpertGroupCount} groups) is not in the Metal routing kernel; use --backend cpu");
        }

        if (hp.GatingFunction is not (Moe.MoeGating.Softmax or Moe.MoeGating.Sigmoid or Moe.MoeGating.SoftmaxOverSelected))
        {
            throw new NotSupportedException($"{file.Path}: gating function {hp.GatingFunction} is not in the Metal routing kernel");
        }

        int h = hp.EmbeddingLength, f = hp.ExpertFeedForwardLength, e = hp.ExpertCount;
        var router = Stack(file, p + "ffn_gate_inp.weight", h, e, 1);
        MetalWeightStack gate, up;
        if (file.TryGetTensor(p + "ffn_gate_up_exps.weight", out var fused))
        {
            // Fused [h, 2f, e]: gate rows [0, f), up rows [f, 2f) of each expert.
            CheckShape(fused, h, 2L * f, e);
            var data = file.GetTensorPointer(fused);
            var rowBytes = fused.TypeInfo.RowBytes(h);
            gate = new MetalWeightStack(fused.Name + " (gate rows)", fused.Type, data, h, f, e, 2 * f * rowBytes);
            up = new MetalWeightStack(fused.Name + " (up rows)", fused.Type, data + (f * rowBytes), h, f, e, 2 * f * rowBytes);
        }
        else
        {
            gate = Stack(file, p + "ffn_gate_exps.weight", h, f, e);
            up = Stack(file, p + "ffn_up_exps.weight", h, f, e);
        }

        var weights = new MetalMoeWeights
        {
            Router = router,
            Gate = gate,
            Up = up,
            Down = Stack(file, p + "ffn_down_exps.weight", f, h, e),
            RouterBias = Vector(file, p + "ffn_gate_inp.bias", e),
            SelectionBias = Vector(file, p + "exp_probs_b.bias", e),
            PageMapped = file.IsFileMapping,
        };
        var routing = new MetalMoeRouting
        {
            ExpertsPerToken = hp.ExpertUsedCount,
            Gating = (int)hp.GatingFunction,
            NormalizeWeights = hp.ExpertWeightsNorm,
            WeightScale = hp.ExpertWeightsScale,
            OaiActivation = hp.Architecture == "gpt-oss",
        };
        weights.Validate();
        return (weights, routing);
    }

    private static MetalWeightStack Stack(GgufFile file, string name, int columns, int rows, int experts)
    {
        var t = file.GetTensor(name);
        CheckShape(t, columns, rows, experts);
        return new MetalWeightStack(name, t.Type, file.GetTensorPointer(t), columns, rows, experts);
    }

    private static float* Vector(GgufFile file, string name, int length)
    {
        if (!file.TryGetTensor(name, out var t))
        {
            return null;
        }

        if (t.Type != GgmlType.F32 || t.ElementCount != length)
        {
            throw new NotSupportedException($"{name}: expected {length} F32 values, found {t.ElementCount} {t.TypeInfo.Name}");
        }

        return (float*)file.GetTensorPointer(t);
    }

    private static void CheckShape(GgufTensorInfo t, long columns, long rows, long experts)
    {
        var s = t.Shape;
        var ok = s.Count >= 2 && s[0] == columns && s[1] == rows && (s.Count == 2 ? experts == 1 : s[2] == experts && (s.Count == 3 || s[3] == 1));
        if (!ok)
        {
            throw new GgufException($"{t.Name}: shape [{string.Join(", ", s)}] does not match the expected [{columns}, {rows}, {experts}]");
        }
    }
}
