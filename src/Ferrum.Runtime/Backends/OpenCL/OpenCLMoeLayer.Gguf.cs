using System.Runtime.InteropServices;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Backends.OpenCL;

public sealed partial class OpenCLMoeLayer
{
    /// <summary>
    /// The MoE layer <paramref name="layer"/> of a GGUF file on the device: router (ffn_gate_inp, F32), experts
    /// (ffn_gate_exps + ffn_up_exps, or the fused ffn_gate_up_exps; ffn_down_exps), DeepSeek-V3's exp_probs_b, and
    /// the architecture's routing rules. Weights are used in place on CPU devices, so <paramref name="file"/> must stay
    /// open while the layer lives. Shared experts, group-limited routing and expert biases (gpt-oss) are not run by
    /// this backend and are rejected with a message that says so.
    /// </summary>
    public static unsafe OpenCLMoeLayer FromGguf(OpenCLContext context, OpenCLKernelSources sources, GgufFile file, int layer, OpenCLMoeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var hp = MoeHyperParameters.FromFile(file);
        if (!hp.IsMoeLayer(layer))
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"{file.Path}: layer {layer} is not a MoE layer (MoE layers: {hp.LeadingDenseBlockCount}..{hp.BlockCount - 1})");
        }

        string Name(string t) => $"blk.{layer}.{t}";
        if (hp.SharedExpertCount > 0)
        {
            throw new NotSupportedException($"{file.Path}: {hp.Architecture} has shared experts, which the OpenCL backend does not run yet");
        }

        if (hp.ExpertGroupCount > 1 && hp.ExpertGroupUsedCount < hp.ExpertGroupCount)
        {
            throw new NotSupportedException($"{file.Path}: group-limited expert selection ({hp.ExpertGroupUsedCount} of {hp.ExpertGroupCount} groups) is not supported by the OpenCL backend");
        }

        if (file.TryGetTensor(Name("ffn_gate_inp.bias"), out _) || file.TryGetTensor(Name("ffn_down_exps.bias"), out _))
        {
            throw new NotSupportedException($"{file.Path}: router/expert biases ({hp.Architecture}) are not supported by the OpenCL backend");
        }

        var gating = hp.GatingFunction switch
        {
            Moe.MoeGating.Softmax => OpenCLGating.Softmax,
            Moe.MoeGating.Sigmoid => OpenCLGating.Sigmoid,
            Moe.MoeGating.SoftmaxOverSelected => OpenCLGating.SoftmaxWeight,
            var g => throw new NotSupportedException($"{file.Path}: gating function {g} is not supported by the OpenCL backend"),
        };

        int h = hp.EmbeddingLength, f = hp.ExpertFeedForwardLength, e = hp.ExpertCount;
        var router = file.GetTensor(Name("ffn_gate_inp.weight"));
        Expect(router, GgmlType.F32, [h, e]);
        var routerFloats = MemoryMarshal.Cast<byte, float>(file.GetTensorBytes(router));

        OpenCLExpertTensor gate, up;
        if (file.TryGetTensor(Name("ffn_gate_up_exps.weight"), out var fused))
        {
            // Fused: per expert the gate rows [0, F) then the up rows [F, 2F).
            Expect(fused, null, [h, 2L * f, e]);
            var p = file.GetTensorPointer(fused);
            gate = new OpenCLExpertTensor(fused.Type, h, f, e, p, fused.Stride(2), true);
            up = new OpenCLExpertTensor(fused.Type, h, f, e, p + (f * fused.RowBytes), fused.Stride(2), true);
        }
        else
        {
            var g = file.GetTensor(Name("ffn_gate_exps.weight"));
            var u = file.GetTensor(Name("ffn_up_exps.weight"));
            Expect(g, null, [h, f, e]);
            Expect(u, g.Type, [h, f, e]);
            gate = new OpenCLExpertTensor(g.Type, h, f, e, file.GetTensorPointer(g), g.Stride(2), true);
            up = new OpenCLExpertTensor(u.Type, h, f, e, file.GetTensorPointer(u), u.Stride(2), true);
        }

        var d = file.GetTensor(Name("ffn_down_exps.weight"));
        Expect(d, null, [f, h, e]);
        var down = new OpenCLExpertTensor(d.Type, f, h, e, file.GetTensorPointer(d), d.Stride(2), true);

        float[]? bias = null;
        if (file.TryGetTensor(Name("exp_probs_b.bias"), out var b))
        {
            Expect(b, GgmlType.F32, [e]);
            bias = MemoryMarshal.Cast<byte, float>(file.GetTensorBytes(b)).ToArray();
        }

        var routing = new OpenCLRouting(gating, hp.ExpertWeightsNorm, hp.ExpertWeightsScale, bias);
        return new OpenCLMoeLayer(context, sources, routerFloats, gate, up, down, hp.ExpertUsedCount, routing, options);
    }

    private static void Expect(GgufTensorInfo t, GgmlType? type, long[] shape)
    {
        if (type is { } ty && t.Type != ty)
        {
            throw new GgufException($"tensor '{t.Name}' is {t.TypeInfo.Name}, expected {GgmlTypeInfo.Get(ty).Name}");
        }

        if (!t.Shape.SequenceEqual(shape))
        {
            throw new GgufException($"tensor '{t.Name}' has shape {t.ShapeString}, expected [{string.Join(", ", shape)}]");
        }

        if (!FormatSupported(t.Type))
        {
            throw new NotSupportedException($"tensor '{t.Name}' is {t.TypeInfo.Name}, which the OpenCL kernels do not decode");
        }
    }
}
