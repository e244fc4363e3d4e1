using Ferrum.Backends;
using Ferrum.Gguf;

namespace Ferrum.Models;

/// <summary>The attention tensors of one layer (llama.cpp names blk.N.*), its norms and its MoE block.</summary>
internal sealed unsafe class LayerWeights
{
    public required float* AttnNorm { get; init; }

    public required DenseMatrix Wq { get; init; }

    public required DenseMatrix Wk { get; init; }

    public required DenseMatrix Wv { get; init; }

    public required DenseMatrix Wo { get; init; }

    public required float* Bq { get; init; }

    public required float* Bk { get; init; }

    public required float* Bv { get; init; }

    public required float* Bo { get; init; }

    public required float* QNorm { get; init; }

    public required float* KNorm { get; init; }

    public required float* FfnNorm { get; init; }

    /// <summary>Set after the attention tensors are validated, so a bad attention tensor is reported first.</summary>
    public IMoeExecutor? Moe { get; set; }

    /// <summary>Views layer <paramref name="i"/>'s attention tensors, checking names, shapes and formats.</summary>
    public static LayerWeights Load(GgufFile file, MoeModelConfig c, int i)
    {
        string p = $"blk.{i}.";
        int h = c.Hidden, qw = c.QueryWidth, kw = c.KvWidth;
        int qNormLen = c.QkNorm == QkNormKind.PerHead ? c.HeadDim : qw;
        int kNormLen = c.QkNorm == QkNormKind.PerHead ? c.HeadDim : kw;
        bool qk = c.QkNorm != QkNormKind.None;
        return new LayerWeights
        {
            AttnNorm = DenseMatrix.Vector(file, p + "attn_norm.weight", h, required: true),
            Wq = DenseMatrix.Load(file, p + "attn_q.weight", h, qw),
            Wk = DenseMatrix.Load(file, p + "attn_k.weight", h, kw),
            Wv = DenseMatrix.Load(file, p + "attn_v.weight", h, kw),
            Wo = DenseMatrix.Load(file, p + "attn_output.weight", qw, h),
            Bq = DenseMatrix.Vector(file, p + "attn_q.bias", qw, c.QkvBiasRequired),
            Bk = DenseMatrix.Vector(file, p + "attn_k.bias", kw, c.QkvBiasRequired),
            Bv = DenseMatrix.Vector(file, p + "attn_v.bias", kw, c.QkvBiasRequired),
            Bo = DenseMatrix.Vector(file, p + "attn_output.bias", h, required: false),
            QNorm = qk ? DenseMatrix.Vector(file, p + "attn_q_norm.weight", qNormLen, required: true) : null,
            KNorm = qk ? DenseMatrix.Vector(file, p + "attn_k_norm.weight", kNormLen, required: true) : null,
            FfnNorm = DenseMatrix.Vector(file, p + "ffn_norm.weight", h, required: true),
        };
    }
}
