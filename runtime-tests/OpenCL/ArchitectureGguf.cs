using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// Small one-block GGUF images of the architectures whose MoE blocks need what the GPU backends lack: qwen2moe (a
/// gated shared expert) and gpt-oss (router and expert biases, swiglu_oai). Weights are zero: only names, shapes and
/// metadata matter to the capability checks.
/// </summary>
internal static class ArchitectureGguf
{
    public const int Hidden = 256;
    public const int Ffn = 64;
    public const int Experts = 4;

    /// <summary>qwen2moe: routed experts plus ffn_{gate,up,down}_shexp and ffn_gate_inp_shexp.</summary>
    public static byte[] Qwen2Moe()
    {
        var w = Header("qwen2moe");
        w.AddMetadata("qwen2moe.expert_shared_feed_forward_length", (uint)Ffn);
        RoutedExperts(w, GgmlType.Q8_0);
        w.AddTensor("blk.0.ffn_gate_shexp.weight", GgmlType.Q8_0, [Hidden, Ffn], Zeros(GgmlType.Q8_0, Hidden, Ffn));
        w.AddTensor("blk.0.ffn_up_shexp.weight", GgmlType.Q8_0, [Hidden, Ffn], Zeros(GgmlType.Q8_0, Hidden, Ffn));
        w.AddTensor("blk.0.ffn_down_shexp.weight", GgmlType.Q8_0, [Ffn, Hidden], Zeros(GgmlType.Q8_0, Ffn, Hidden));
        w.AddTensor("blk.0.ffn_gate_inp_shexp.weight", GgmlType.F32, [Hidden], Zeros(GgmlType.F32, Hidden, 1));
        return w.ToArray();
    }

    /// <summary>gpt-oss: MXFP4 experts with ffn_gate_inp.bias and ffn_{gate,up,down}_exps.bias.</summary>
    public static byte[] GptOss()
    {
        var w = Header("gpt-oss");
        RoutedExperts(w, GgmlType.MXFP4);
        w.AddTensor("blk.0.ffn_gate_inp.bias", GgmlType.F32, [Experts], Zeros(GgmlType.F32, Experts, 1));
        w.AddTensor("blk.0.ffn_gate_exps.bias", GgmlType.F32, [Ffn, Experts], Zeros(GgmlType.F32, Ffn, Experts));
        w.AddTensor("blk.0.ffn_up_exps.bias", GgmlType.F32, [Ffn, Experts], Zeros(GgmlType.F32, Ffn, Experts));
        w.AddTensor("blk.0.ffn_down_exps.bias", GgmlType.F32, [Hidden, Experts], Zeros(GgmlType.F32, Hidden, Experts));
        return w.ToArray();
    }

    /// <summary>qwen3moe: routed experts only, which every backend runs.</summary>
    public static byte[] Qwen3Moe()
    {
        var w = Header("qwen3moe");
        RoutedExperts(w, GgmlType.Q8_0);
        return w.ToArray();
    }

    private static GgufWriter Header(string arch)
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", arch);
        w.AddMetadata(arch + ".block_count", 1u);
        w.AddMetadata(arch + ".embedding_length", (uint)Hidden);
        w.AddMetadata(arch + ".feed_forward_length", (uint)(2 * Ffn));
        w.AddMetadata(arch + ".expert_feed_forward_length", (uint)Ffn);
        w.AddMetadata(arch + ".expert_count", (uint)Experts);
        w.AddMetadata(arch + ".expert_used_count", 2u);
        return w;
    }

    private static void RoutedExperts(GgufWriter w, GgmlType type)
    {
        w.AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [Hidden, Experts], Zeros(GgmlType.F32, Hidden, Experts));
        w.AddTensor("blk.0.ffn_gate_exps.weight", type, [Hidden, Ffn, Experts], Zeros(type, Hidden, Ffn * Experts));
        w.AddTensor("blk.0.ffn_up_exps.weight", type, [Hidden, Ffn, Experts], Zeros(type, Hidden, Ffn * Experts));
        w.AddTensor("blk.0.ffn_down_exps.weight", type, [Ffn, Hidden, Experts], Zeros(type, Ffn, Hidden * Experts));
    }

    private static byte[] Zeros(GgmlType type, int rowLength, int rows) => new byte[GgmlTypeInfo.Get(type).RowBytes(rowLength) * rows];
}
