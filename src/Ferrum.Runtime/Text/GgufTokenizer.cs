using System.Text;
using Ferrum.Gguf;
using Ferrum.Inference;

namespace Ferrum.Text;

/// <summary>
/// The tokenizer of a GGUF file (<c>tokenizer.ggml.*</c>), reproducing llama.cpp token for token: byte-level BPE
/// (<c>tokenizer.ggml.model = gpt2</c>) with the qwen2, olmo and llama-bpe pre-tokenizers, and SentencePiece-style
/// vocabularies (<c>llama</c>: '▁' for spaces, a space prefix, score-ordered bigram merges, byte fallback).
/// Special tokens (control, user-defined, unknown) are cut out of the text first, as llama.cpp's
/// tokenizer_st_partition does; BOS/EOS follow <c>add_bos_token</c>/<c>add_eos_token</c> with llama.cpp's defaults per
/// vocabulary type; the end-of-generation set is EOS, EOT, EOM and the tokens llama.cpp recognises by text
/// (&lt;|im_end|&gt;, &lt;|endoftext|&gt;, &lt;|eot_id|&gt;, …).
/// <para>
/// Microsoft.ML.Tokenizers does the byte-level BPE merge step (its <c>BpeTokenizer</c>, fed one pre-split word at a
/// time; compared with llama.cpp it matches token for token). The rest is hand-written because Microsoft.ML.Tokenizers
/// does not do it the way llama.cpp does: its regex pre-tokenizers run .NET regexes over UTF-16, where a letter outside
/// the BMP is two surrogates that are not <c>\p{L}</c> (llama.cpp scans code points, with its own quirks for unassigned
/// ones); its in-memory SentencePiece tokenizer is a Unigram (Viterbi) model, not llama.cpp's greedy score-ordered
/// bigram merges (and its SentencePiece BPE model loads only from a SentencePiece protobuf); and llama.cpp's
/// special-token partition, <c>ignore_merges</c>, BOS/EOS defaults, end-of-generation set and token_to_piece rules
/// are llama.cpp's own. model-tests/Text/MicrosoftMlTokenizersVsLlamaCppTests shows the differences.
/// </para>
/// <para>
/// Deviations: a special-token id key out of range is an error here (llama.cpp warns and keeps its default); a
/// byte-level vocabulary must hold all 256 byte tokens and merges of existing tokens (as Hugging Face tokenizers
/// require; llama.cpp would fall back to per-byte lookups); the LSTRIP/RSTRIP attributes llama.cpp sets for a few
/// model names (phi-3, jina, modern-bert) are not applied.
/// Instances are immutable and thread-safe.
/// </para>
/// </summary>
public sealed class GgufTokenizer : ITokenizer
{
    /// <summary>The <c>tokenizer.ggml.model</c> values supported.</summary>
    public static IReadOnlyList<string> SupportedModels { get; } = ["gpt2", "llama"];

    /// <summary>The <c>tokenizer.ggml.pre</c> values supported for <c>gpt2</c> vocabularies.</summary>
    public static IReadOnlyList<string> SupportedPreTokenizers => BpePreTokenizer.Supported;

    private readonly TokenizerVocab _vocab;
    private readonly BpeEncoder? _bpe;
    private readonly SpmEncoder? _spm;

    private GgufTokenizer(TokenizerVocab vocab)
    {
        _vocab = vocab;
        if (vocab.IsSpm)
        {
            _spm = new SpmEncoder(vocab);
        }
        else
        {
            _bpe = new BpeEncoder(vocab, vocab.Source);
        }
    }

    /// <summary>Reads the tokenizer of an open GGUF file.</summary>
    /// <exception cref="GgufException">A <c>tokenizer.ggml.*</c> key is missing, has the wrong type or is inconsistent,
    /// or the model/pre-tokenizer is not supported (the message names the key and lists the supported values).</exception>
    public static GgufTokenizer FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new GgufTokenizer(TokenizerVocab.Load(file.Metadata, file.Path));
    }

    /// <summary>Reads the tokenizer from GGUF metadata; <paramref name="source"/> names it in error messages.</summary>
    public static GgufTokenizer FromMetadata(GgufMetadata metadata, string source = "<metadata>")
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return new GgufTokenizer(TokenizerVocab.Load(metadata, source));
    }

    /// <summary><c>tokenizer.ggml.model</c> ("gpt2" or "llama").</summary>
    public string Model => _vocab.Model;

    /// <summary><c>tokenizer.ggml.pre</c> for BPE vocabularies; null for SentencePiece.</summary>
    public string? Pre => _vocab.Pre?.Name;

    /// <inheritdoc/>
    public int VocabSize => _vocab.Count;

    /// <inheritdoc/>
    public int? BosToken => _vocab.Bos;

    /// <inheritdoc/>
    public int? EosToken => _vocab.Eos;

    /// <summary>End-of-turn token (from <c>tokenizer.ggml.eot_token_id</c>, or recognised by its text as llama.cpp does).</summary>
    public int? EotToken => _vocab.Eot;

    /// <summary>Whether <see cref="Encode"/> with <c>addSpecial</c> prepends BOS.</summary>
    public bool AddBos => _vocab.AddBos;

    /// <summary>Whether <see cref="Encode"/> with <c>addSpecial</c> appends EOS.</summary>
    public bool AddEos => _vocab.AddEos;

    /// <summary>The end-of-generation tokens, ascending.</summary>
    public IReadOnlyList<int> EndOfGenerationTokens => _vocab.EndOfGeneration;

    /// <summary>The text of a token as stored in the vocabulary (byte-level or '▁' form, not decoded).</summary>
    public string TokenText(int token) => _vocab.Tokens[CheckToken(token)];

    /// <summary>The token with exactly this vocabulary text, or null.</summary>
    public int? TokenId(string text) => _vocab.Lookup(text) is var id and >= 0 ? id : null;

    /// <inheritdoc/>
    public bool IsEndOfGeneration(int token) => _vocab.IsEog(token);

    /// <inheritdoc/>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = SanitizeSurrogates(text);
        var fragments = SpecialTokenPartition.Split(_vocab, text, parseSpecial);
        var output = new List<int>(text.Length / 3 + 4);
        if (_spm is not null)
        {
            if (addSpecial && _vocab.AddBos)
            {
                output.Add(_vocab.Bos!.Value);
            }
            var prevSpecial = true; // a space prefix goes before the first text and after each special token
            foreach (var f in fragments)
            {
                if (f.Token >= 0)
                {
                    output.Add(f.Token);
                    prevSpecial = true;
                    continue;
                }
                var piece = text.AsSpan(f.Offset, f.Length);
                var withPrefix = _vocab.AddSpacePrefix && prevSpecial ? string.Concat(" ", piece) : piece.ToString();
                _spm.Encode(withPrefix.Replace(' ', '\u2581'), output);
                prevSpecial = false;
            }
        }
        else
        {
            if (addSpecial && _vocab.AddBos)
            {
                output.Add(_vocab.Bos!.Value);
            }
            foreach (var f in fragments)
            {
                if (f.Token >= 0)
                {
                    output.Add(f.Token);
                }
                else
                {
                    _bpe!.Encode(text.AsSpan(f.Offset, f.Length), output);
                }
            }
        }
        if (addSpecial && _vocab.AddEos)
        {
            output.Add(_vocab.Eos!.Value);
        }
        return output.ToArray();
    }

    /// <inheritdoc/>
    public byte[] TokenBytes(int token, bool renderSpecial = false)
    {
        CheckToken(token);
        return renderSpecial ? _vocab.PieceSpecial(token) : _vocab.Piece(token);
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> tokens, bool renderSpecial = false)
    {
        var bytes = new List<byte>(tokens.Length * 4);
        foreach (var t in tokens)
        {
            bytes.AddRange(TokenBytes(t, renderSpecial));
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Model}{(Pre is null ? "" : "/" + Pre)} tokenizer, {VocabSize} tokens, bos={BosToken?.ToString() ?? "none"}, eos={EosToken?.ToString() ?? "none"}";

    private int CheckToken(int token) => (uint)token < (uint)_vocab.Count
        ? token
        : throw new ArgumentOutOfRangeException(nameof(token), token, $"token id out of range (vocabulary has {_vocab.Count} tokens)");

    // llama.cpp receives UTF-8; an unpaired surrogate in a .NET string encodes as U+FFFD, so tokenize that.
    private static string SanitizeSurrogates(string text)
    {
        foreach (var c in text)
        {
            if (char.IsSurrogate(c))
            {
                return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
            }
        }
        return text;
    }
}
