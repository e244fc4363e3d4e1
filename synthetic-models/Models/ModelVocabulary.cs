using Ferrum.Gguf;
using Ferrum.SyntheticModels.Vocab;

namespace Ferrum.SyntheticModels;

/// <summary>
/// The tokenizer written into synthetic whole models (the one place that picks it): the vocabulary family of the
/// architecture's real models, from <see cref="SyntheticVocabulary"/> — byte-level BPE with the qwen2 pre-tokenizer
/// for qwen2moe/qwen3moe, with the olmo pre-tokenizer for olmoe, and SentencePiece for Mixtral-style llama.
/// </summary>
public static class ModelVocabulary
{
    /// <summary>The vocabulary of <paramref name="spec"/> (cached per family and size).</summary>
    public static SyntheticVocabulary For(SyntheticModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Architecture switch
        {
            "qwen3moe" or "qwen2moe" => SyntheticVocabulary.Bpe("qwen2", spec.VocabSize),
            "olmoe" => SyntheticVocabulary.Bpe("olmo", spec.VocabSize),
            _ => SyntheticVocabulary.SentencePiece(spec.VocabSize),
        };
    }

    /// <summary>Writes the tokenizer.ggml.* keys of <paramref name="spec"/>'s vocabulary.</summary>
    public static void WriteTo(GgufWriter writer, SyntheticModelSpec spec) => For(spec).WriteTo(writer);
}
