using Ferrum.Quantization;

namespace Ferrum.SyntheticModels;

/// <summary>Ready-made shapes: tiny models of each architecture for tests, and a Qwen3-30B-A3B-shaped demo.</summary>
public static class SyntheticModelPresets
{
    /// <summary>qwen3moe: per-head QK-norm, GQA 4:2, head dim 64 (query width 256 = hidden), q4_K_M mix.</summary>
    public static SyntheticModelSpec TinyQwen3Moe { get; } = new("qwen3moe", Layers: 2, Hidden: 256, Heads: 4, KvHeads: 2, HeadDim: 64,
        ExpertFfn: 256, Experts: 8, TopK: 2, SharedExpertFfn: 0, VocabSize: 1024, SyntheticFormats.Q4KM, Seed: 11);

    /// <summary>qwen2moe: QKV biases, shared expert with its sigmoid gate, GQA 4:2, q8_0.</summary>
    public static SyntheticModelSpec TinyQwen2Moe { get; } = new("qwen2moe", Layers: 2, Hidden: 256, Heads: 4, KvHeads: 2, HeadDim: 64,
        ExpertFfn: 128, Experts: 8, TopK: 2, SharedExpertFfn: 256, VocabSize: 1024, SyntheticFormats.Q8_0, Seed: 12);

    /// <summary>olmoe: whole-projection QK-norm, no GQA, top-k weights not renormalized, q5_K_M mix.</summary>
    public static SyntheticModelSpec TinyOlmoe { get; } = new("olmoe", Layers: 2, Hidden: 256, Heads: 4, KvHeads: 4, HeadDim: 64,
        ExpertFfn: 256, Experts: 8, TopK: 2, SharedExpertFfn: 0, VocabSize: 1024, SyntheticFormats.Q5KM, Seed: 13);

    /// <summary>Mixtral-style llama: RoPE normal, GQA 8:2 (head dim 32), 8 experts top-2, q4_K_M mix with a q8_0 embedding.</summary>
    public static SyntheticModelSpec TinyMixtral { get; } = new("llama", Layers: 2, Hidden: 256, Heads: 8, KvHeads: 2, HeadDim: 32,
        ExpertFfn: 256, Experts: 8, TopK: 2, SharedExpertFfn: 0, VocabSize: 1024,
        SyntheticFormats.Q4KM with { Embedding = GgmlType.Q8_0 }, Seed: 14)
    { RopeFreqBase = 10000f };

    /// <summary>The four tiny models, one per architecture.</summary>
    public static IReadOnlyList<SyntheticModelSpec> Tiny { get; } = [TinyQwen3Moe, TinyQwen2Moe, TinyOlmoe, TinyMixtral];

    /// <summary>
    /// Qwen3-30B-A3B's shape (hidden 2048, 32 query heads, 4 KV heads, head dim 128, expert FFN 768, 128 experts,
    /// top-8, QK-norm) with <paramref name="layers"/> layers and a 7168-token qwen2 BPE vocabulary (about what the shipped corpus yields), q4_K_M mix. Attention and expert rows
    /// come from a quantized pool of 1024 rows per role so it builds in well under a minute; the embedding and the
    /// output head are quantized row by row.
    /// </summary>
    public static SyntheticModelSpec Qwen3_30B_A3B(int layers = 2) => new("qwen3moe", layers, Hidden: 2048, Heads: 32, KvHeads: 4, HeadDim: 128,
        ExpertFfn: 768, Experts: 128, TopK: 8, SharedExpertFfn: 0, VocabSize: 7168, SyntheticFormats.Q4KM, Seed: 30)
    { QuantizedRowPool = 1024, ContextLength = 40960, OutputScale = 0.6f };
}
