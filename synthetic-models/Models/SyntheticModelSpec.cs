using Ferrum.Quantization;

namespace Ferrum.SyntheticModels;

/// <summary>Weight formats of a synthetic model, per tensor role (norms, biases and the router are always f32).</summary>
/// <param name="Embedding">token_embd.weight.</param>
/// <param name="AttentionQko">attn_q / attn_k / attn_output.</param>
/// <param name="AttentionV">attn_v (real Q4_K_M files give it more bits).</param>
/// <param name="ExpertGateUp">ffn_gate_exps / ffn_up_exps (and the shared expert's gate/up).</param>
/// <param name="ExpertDown">ffn_down_exps (and the shared expert's down).</param>
/// <param name="Output">output.weight.</param>
public sealed record SyntheticFormats(GgmlType Embedding, GgmlType AttentionQko, GgmlType AttentionV, GgmlType ExpertGateUp, GgmlType ExpertDown, GgmlType Output)
{
    /// <summary>The mix of a llama.cpp Q4_K_M file: q4_K with q6_K for attn_v, expert down and the output head.</summary>
    public static SyntheticFormats Q4KM { get; } = new(GgmlType.Q4_K, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q6_K);

    /// <summary>Everything q8_0 (a Q8_0 file).</summary>
    public static SyntheticFormats Q8_0 { get; } = new(GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0, GgmlType.Q8_0);

    /// <summary>The mix of a Q5_K_M file: q5_K with q6_K for attn_v, expert down and the output head.</summary>
    public static SyntheticFormats Q5KM { get; } = new(GgmlType.Q5_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q6_K);
}

/// <summary>
/// The shape of a synthetic whole MoE model of one of the architectures llama.cpp runs (qwen3moe, qwen2moe, olmoe,
/// llama = Mixtral-style).
/// </summary>
/// <param name="Architecture">general.architecture.</param>
/// <param name="Layers">Transformer blocks.</param>
/// <param name="Hidden">embedding_length.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads (GQA).</param>
/// <param name="HeadDim">Head size (key_length = value_length).</param>
/// <param name="ExpertFfn">Hidden size of one routed expert.</param>
/// <param name="Experts">Routed experts per layer.</param>
/// <param name="TopK">Experts used per token.</param>
/// <param name="SharedExpertFfn">Hidden size of the shared expert (qwen2moe only; 0 otherwise).</param>
/// <param name="VocabSize">Tokens of the vocabulary.</param>
/// <param name="Formats">Weight formats per role.</param>
/// <param name="Seed">Seed of every random weight.</param>
public sealed record SyntheticModelSpec(
    string Architecture, int Layers, int Hidden, int Heads, int KvHeads, int HeadDim, int ExpertFfn, int Experts, int TopK,
    int SharedExpertFfn, int VocabSize, SyntheticFormats Formats, int Seed)
{
    /// <summary>Omit output.weight so the head is tied to token_embd.weight (llama.cpp duplicates it).</summary>
    public bool TiedEmbeddings { get; init; }

    /// <summary>{arch}.context_length written to the file.</summary>
    public int ContextLength { get; init; } = 4096;

    /// <summary>{arch}.rope.freq_base.</summary>
    public float RopeFreqBase { get; init; } = 1_000_000f;

    /// <summary>{arch}.attention.layer_norm_rms_epsilon.</summary>
    public float RmsEpsilon { get; init; } = 1e-6f;

    /// <summary>
    /// How strongly the output head follows the embedding: row j of output.weight is OutputScale · (the embedding of a
    /// fixed random permutation of j, plus as much fresh noise) / sqrt(hidden). Larger values give more peaked logits.
    /// </summary>
    public float OutputScale { get; init; } = 2f;

    /// <summary>Scale of what each layer's attention and MoE add to the residual stream (the embedding has unit scale).</summary>
    public float BlockScale { get; init; } = 0.6f;

    /// <summary>
    /// At most this many rows of each (role, format) are quantized; further rows are copies of whole quantized rows
    /// drawn at random from that pool (rows are independent blocks in every format). 0: every row is quantized.
    /// </summary>
    public int QuantizedRowPool { get; init; }

    /// <summary>Checks the shape against what llama.cpp and the formats require.</summary>
    public void Validate()
    {
        if (Architecture is not ("qwen3moe" or "qwen2moe" or "olmoe" or "llama"))
        {
            throw new ArgumentException($"architecture '{Architecture}' is not one of qwen3moe, qwen2moe, olmoe, llama");
        }

        if (Layers < 1 || Hidden < 1 || Heads < 1 || KvHeads < 1 || Heads % KvHeads != 0 || HeadDim < 2 || HeadDim % 2 != 0)
        {
            throw new ArgumentException($"invalid attention shape: {Heads} heads, {KvHeads} kv heads, head dim {HeadDim}");
        }

        if (Architecture != "qwen3moe" && Heads * HeadDim != Hidden)
        {
            throw new ArgumentException($"{Architecture} needs heads × head_dim = hidden ({Heads} × {HeadDim} != {Hidden})");
        }

        if (Architecture == "olmoe" && KvHeads != Heads)
        {
            throw new ArgumentException("olmoe's k_norm spans the hidden size, so it needs as many kv heads as heads");
        }

        if (TopK < 1 || TopK > Experts)
        {
            throw new ArgumentException($"top-k {TopK} must be in [1, {Experts}]");
        }

        if ((Architecture == "qwen2moe") != (SharedExpertFfn > 0))
        {
            throw new ArgumentException("a shared expert exists exactly for qwen2moe");
        }

        if (VocabSize < (Architecture == "llama" ? 600 : 300) || VocabSize > 32768)
        {
            throw new ArgumentException($"vocabulary size {VocabSize} is outside what the synthetic vocabularies provide ([300 or 600 for SentencePiece, 32768])");
        }
    }
}
