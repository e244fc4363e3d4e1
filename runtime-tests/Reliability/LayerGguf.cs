using Ferrum.Gguf;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;
using Ferrum.Runtime.Tests.Moe;

namespace Ferrum.Runtime.Tests.Reliability;

/// <summary>Writes a <see cref="MoeTestLayer"/> as a one-MoE-block GGUF file (blk.1), with metadata overrides for hostile files.</summary>
internal static unsafe class LayerGguf
{
    /// <param name="extra">Adds or overrides metadata (written after the defaults; GgufWriter keeps the last value).</param>
    /// <param name="upOverride">Replaces the up tensor (type and bytes), e.g. to make gate and up disagree.</param>
    public static string Write(MoeTestLayer l, string path, Action<GgufWriter, string>? extra = null, (GgmlType Type, byte[] Bytes)? upOverride = null)
    {
        const int h = MoeTestLayer.Hidden, f = MoeTestLayer.Ffn, e = MoeTestLayer.Experts;
        string k = l.Arch + ".";
        var w = new GgufWriter()
            .AddMetadata("general.architecture", l.Arch)
            .AddMetadata(k + "block_count", 2u)
            .AddMetadata(k + "embedding_length", (uint)h)
            .AddMetadata(k + "feed_forward_length", (uint)(f * MoeTestLayer.TopK))
            .AddMetadata(k + "expert_feed_forward_length", (uint)f)
            .AddMetadata(k + "expert_count", (uint)e)
            .AddMetadata(k + "expert_used_count", (uint)MoeTestLayer.TopK);
        if (l.Arch == "qwen2moe")
        {
            w.AddMetadata(k + "expert_shared_feed_forward_length", (uint)MoeTestLayer.SharedFfn);
        }

        if (l.Arch == "deepseek2")
        {
            w.AddMetadata(k + "expert_shared_count", 1u);
            w.AddMetadata(k + "expert_gating_func", 2u);
            w.AddMetadata(k + "expert_weights_norm", true);
            w.AddMetadata(k + "expert_weights_scale", 2.5f);
        }

        extra?.Invoke(w, k);
        const string p = "blk.1.";
        w.AddTensor(p + "ffn_gate_inp.weight", GgmlType.F32, [h, e], Bytes(l.Router));
        w.AddTensor(p + "ffn_gate_exps.weight", l.Type, [h, f, e], Bytes(l.Gate));
        if (upOverride is { } up)
        {
            w.AddTensor(p + "ffn_up_exps.weight", up.Type, [h, f, e], up.Bytes);
        }
        else
        {
            w.AddTensor(p + "ffn_up_exps.weight", l.Type, [h, f, e], Bytes(l.Up));
        }

        w.AddTensor(p + "ffn_down_exps.weight", l.Type, [f, h, e], Bytes(l.Down));
        if (l.HasShared)
        {
            w.AddTensor(p + "ffn_gate_shexp.weight", l.Type, [h, MoeTestLayer.SharedFfn], Bytes(l.ShGate!));
            w.AddTensor(p + "ffn_up_shexp.weight", l.Type, [h, MoeTestLayer.SharedFfn], Bytes(l.ShUp!));
            w.AddTensor(p + "ffn_down_shexp.weight", l.Type, [MoeTestLayer.SharedFfn, h], Bytes(l.ShDown!));
        }

        if (l.ShInpF != null)
        {
            w.AddTensor(p + "ffn_gate_inp_shexp.weight", GgmlType.F32, [h], Floats(l.ShInpF));
        }

        if (l.SelBiasF != null)
        {
            w.AddTensor(p + "exp_probs_b.bias", GgmlType.F32, [e], Floats(l.SelBiasF));
        }

        if (l.HasBias)
        {
            w.AddTensor(p + "ffn_gate_inp.bias", GgmlType.F32, [e], Floats(l.RouterBiasF!));
            w.AddTensor(p + "ffn_gate_exps.bias", GgmlType.F32, [f, e], Floats(l.GateBiasF!));
            w.AddTensor(p + "ffn_up_exps.bias", GgmlType.F32, [f, e], Floats(l.UpBiasF!));
            w.AddTensor(p + "ffn_down_exps.bias", GgmlType.F32, [h, e], Floats(l.DownBiasF!));
        }

        w.WriteTo(path);
        return path;
    }

    public static byte[] Bytes(NativeArray a) => new ReadOnlySpan<byte>(a.Pointer, (int)a.Length).ToArray();

    public static byte[] Floats(float[] v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();
}
