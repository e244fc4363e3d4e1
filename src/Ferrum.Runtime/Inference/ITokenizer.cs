namespace Ferrum.Inference;

/// <summary>
/// Text to token ids and back, the way llama.cpp does it for one GGUF vocabulary (<c>tokenizer.ggml.*</c>).
/// Implemented by <c>Ferrum.Text.GgufTokenizer</c>; the generation loop and the chat client depend only on this.
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of tokens in the vocabulary.</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence token, or null when the vocabulary has none.</summary>
    int? BosToken { get; }

    /// <summary>End-of-sequence token, or null when the vocabulary has none.</summary>
    int? EosToken { get; }

    /// <summary>True for tokens that end generation (EOS, EOT, and the vocabulary's other end-of-generation tokens).</summary>
    bool IsEndOfGeneration(int token);

    /// <summary>
    /// Tokenizes <paramref name="text"/> as llama.cpp's <c>llama_tokenize</c> does: <paramref name="addSpecial"/> adds BOS/EOS
    /// where the vocabulary asks for them (tokenizer.ggml.add_bos_token / add_eos_token); <paramref name="parseSpecial"/>
    /// turns special-token text such as <c>&lt;|im_start|&gt;</c> into its id instead of tokenizing its characters.
    /// </summary>
    int[] Encode(string text, bool addSpecial = true, bool parseSpecial = true);

    /// <summary>
    /// The bytes of one token's piece, as <c>llama_token_to_piece</c> renders it (byte-level BPE decoded to bytes,
    /// SentencePiece '▁' to space, byte-fallback tokens to their byte). Control tokens render as empty unless
    /// <paramref name="renderSpecial"/>.
    /// </summary>
    byte[] TokenBytes(int token, bool renderSpecial = false);

    /// <summary>The text of a token sequence (pieces concatenated, then UTF-8 decoded; invalid sequences become U+FFFD).</summary>
    string Decode(ReadOnlySpan<int> tokens, bool renderSpecial = false);
}
