using System.Globalization;
using System.Text;
using Ferrum.Gguf;

namespace Ferrum.Text;

/// <summary>llama.cpp's token attributes (llama_token_attr), a bit set derived from the token types.</summary>
[Flags]
internal enum TokenAttr
{
    Undefined = 0,
    Unknown = 1 << 0,
    Unused = 1 << 1,
    Normal = 1 << 2,
    Control = 1 << 3,
    UserDefined = 1 << 4,
    Byte = 1 << 5,
}

/// <summary>
/// The vocabulary part of <see cref="GgufTokenizer"/>: tokens, attributes, scores, special ids and flags, read from
/// <c>tokenizer.ggml.*</c> with llama.cpp's defaults and its recognition of special tokens by their text.
/// </summary>
internal sealed class TokenizerVocab
{
    private const string P = "tokenizer.ggml.";

    // Token texts llama.cpp recognises (llama-vocab.cpp, load): EOT candidates, EOG members, FIM markers.
    private static readonly string[] EotNames =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
        "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ];

    private static readonly string[] EogNames =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
        "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
    ];

    private static readonly string[] FimPreNames =
        ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>"];

    private static readonly string[] FimSufNames =
        ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>"];

    private static readonly string[] FimMidNames =
        ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>"];

    private static readonly string[] FimPadNames = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];

    private static readonly string[] FimRepNames = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];

    private static readonly string[] FimSepNames = ["<|file_sep|>"];

    private readonly Dictionary<string, int> _ids;
    private readonly HashSet<int> _eog;
    private readonly byte[][] _pieces;
    private readonly byte[][] _piecesSpecial;

    public string Model { get; }
    public string Source { get; }
    public BpePreTokenizer? Pre { get; }
    public bool IsSpm => Model == "llama";
    public string[] Tokens { get; }
    public TokenAttr[] Attrs { get; }
    public float[] Scores { get; }
    public int Count => Tokens.Length;
    public int? Bos { get; }
    public int? Eos { get; }
    public int? Eot { get; }
    public bool AddBos { get; }
    public bool AddEos { get; }
    public bool AddSpacePrefix { get; }
    public bool IgnoreMerges { get; }

    /// <summary><c>tokenizer.ggml.merges</c> ("left right", by rank); empty for SentencePiece.</summary>
    public IReadOnlyList<string> Merges { get; } = [];

    /// <summary>Special tokens in the order llama.cpp cuts them out of text: longest UTF-8 text first (then by id).</summary>
    public int[] SpecialCache { get; }

    /// <summary>For SentencePiece: the &lt;0xHH&gt; token of each byte, -1 when missing.</summary>
    public int[] ByteTokens { get; } = new int[256];

    public int[] EndOfGeneration { get; }

    private TokenizerVocab(GgufMetadata md, string source)
    {
        GgufException Error(string key, string problem) => new($"{source}: {key}: {problem}");
        Source = source;

        if (!md.Contains(P + "model"))
        {
            throw Error(P + "model", $"missing: the file has no tokenizer (supported models: {string.Join(", ", GgufTokenizer.SupportedModels)})");
        }
        Model = md.GetString(P + "model");
        if (!GgufTokenizer.SupportedModels.Contains(Model))
        {
            throw Error(P + "model", $"tokenizer model '{Model}' is not supported (supported: {string.Join(", ", GgufTokenizer.SupportedModels)})");
        }

        if (!IsSpm)
        {
            if (!md.Contains(P + "pre"))
            {
                throw Error(P + "pre", $"missing; llama.cpp would fall back to its 'default' pre-tokenizer, which is not supported (supported: {string.Join(", ", BpePreTokenizer.Supported)})");
            }
            var pre = md.GetString(P + "pre");
            Pre = BpePreTokenizer.TryGet(pre)
                ?? throw Error(P + "pre", $"pre-tokenizer '{pre}' is not supported (supported: {string.Join(", ", BpePreTokenizer.Supported)})");
        }

        if (!md.Contains(P + "tokens"))
        {
            throw Error(P + "tokens", "missing: the vocabulary has no tokens");
        }
        var texts = md.GetArray<string>(P + "tokens");
        var n = texts.Count;
        if (n == 0)
        {
            throw Error(P + "tokens", "the vocabulary is empty");
        }

        IReadOnlyList<int>? types = null;
        if (md.Contains(P + "token_type"))
        {
            types = md.GetArray<int>(P + "token_type");
            if (types.Count < n)
            {
                throw Error(P + "token_type", $"{types.Count} entries for {n} tokens");
            }
        }

        Scores = new float[n];
        if (md.TryGetValue(P + "scores", out var scoreValue))
        {
            if (scoreValue.IsArray && scoreValue.ElementType == GgufValueType.Int32)
            {
                var s = md.GetArray<int>(P + "scores");
                CheckCount(s.Count);
                for (var i = 0; i < n; i++)
                {
                    Scores[i] = s[i];
                }
            }
            else
            {
                var s = md.GetArray<float>(P + "scores");
                CheckCount(s.Count);
                for (var i = 0; i < n; i++)
                {
                    Scores[i] = s[i];
                }
            }
            void CheckCount(int count)
            {
                if (count < n)
                {
                    throw Error(P + "scores", $"{count} entries for {n} tokens");
                }
            }
        }

        Tokens = new string[n];
        Attrs = new TokenAttr[n];
        _ids = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            var text = texts[i];
            if (text.Length == 0)
            {
                text = $"[EMPTY_{i}]"; // llama.cpp's name for an empty token
            }
            if (!_ids.TryAdd(text, i))
            {
                throw Error(P + "tokens", $"duplicate token '{text}' at ids {_ids[text]} and {i}");
            }
            Tokens[i] = text;
            Attrs[i] = types is null ? TokenAttr.Normal : types[i] switch
            {
                (int)TokenType.Unknown => TokenAttr.Unknown,
                (int)TokenType.Unused => TokenAttr.Unused,
                (int)TokenType.Normal => TokenAttr.Normal,
                (int)TokenType.Control => TokenAttr.Control,
                (int)TokenType.UserDefined => TokenAttr.UserDefined,
                (int)TokenType.Byte => TokenAttr.Byte,
                _ => TokenAttr.Undefined,
            };
        }

        if (!IsSpm)
        {
            if (!md.Contains(P + "merges"))
            {
                throw Error(P + "merges", "missing: a gpt2 (BPE) vocabulary needs its merges");
            }
            Merges = md.GetArray<string>(P + "merges");
        }

        // Defaults per vocabulary type, then the keys.
        int? bos = IsSpm ? 1 : 11, eos = IsSpm ? 2 : 11, unk = IsSpm ? 0 : null;
        int? eot = null, eom = null, pad = null, sep = null;
        int? fimPre = null, fimSuf = null, fimMid = null, fimPad = null, fimRep = null, fimSep = null;
        int? Id(string key, int? dflt)
        {
            if (dflt is { } d && d >= n)
            {
                dflt = null; // a default outside the vocabulary is disabled
            }
            if (!md.Contains(P + key))
            {
                return dflt;
            }
            var v = md.GetUInt32(P + key);
            return v < n ? (int)v : throw Error(P + key, $"token id {v} is out of range (the vocabulary has {n} tokens)");
        }
        bos = Id("bos_token_id", bos);
        eos = Id("eos_token_id", eos);
        eot = Id("eot_token_id", eot);
        eom = Id("eom_token_id", eom);
        _ = Id("unknown_token_id", unk);
        _ = Id("seperator_token_id", sep);
        _ = Id("padding_token_id", pad);
        fimPre = Id("fim_pre_token_id", fimPre);
        fimSuf = Id("fim_suf_token_id", fimSuf);
        fimMid = Id("fim_mid_token_id", fimMid);
        fimPad = Id("fim_pad_token_id", fimPad);
        fimRep = Id("fim_rep_token_id", fimRep);
        fimSep = Id("fim_sep_token_id", fimSep);

        var addBos = IsSpm || Pre?.Name == "llama-bpe";
        var addEos = false;
        if (md.Contains(P + "add_bos_token"))
        {
            addBos = md.GetBool(P + "add_bos_token");
        }
        if (md.Contains(P + "add_eos_token"))
        {
            addEos = md.GetBool(P + "add_eos_token");
        }
        if (addBos && bos is null)
        {
            throw Error(P + "add_bos_token", "is true, but tokenizer.ggml.bos_token_id is not set");
        }
        if (addEos && eos is null)
        {
            throw Error(P + "add_eos_token", "is true, but tokenizer.ggml.eos_token_id is not set");
        }
        AddBos = addBos;
        AddEos = addEos;
        AddSpacePrefix = IsSpm && (!md.Contains(P + "add_space_prefix") || md.GetBool(P + "add_space_prefix"));
        IgnoreMerges = Pre?.Name == "llama-bpe";

        // Recognise special tokens by text, forcing them to control type, as llama.cpp does. It scans a hash map, so
        // when several texts qualify for one role its choice is arbitrary; here the lowest id wins.
        var ordered = Enumerable.Range(0, n).Where(i => Tokens[i].Length < 40).ToArray();
        int? Detect(int? current, string[] names)
        {
            if (current is not null)
            {
                return current;
            }
            foreach (var i in ordered)
            {
                if (Array.IndexOf(names, Tokens[i]) >= 0)
                {
                    Attrs[i] |= TokenAttr.Control;
                    return i;
                }
            }
            return null;
        }
        eot = Detect(eot, EotNames);
        eom = Detect(eom, ["<|eom_id|>"]);
        _ = Detect(fimPre, FimPreNames);
        _ = Detect(fimSuf, FimSufNames);
        _ = Detect(fimMid, FimMidNames);
        fimPad = Detect(fimPad, FimPadNames);
        fimRep = Detect(fimRep, FimRepNames);
        fimSep = Detect(fimSep, FimSepNames);

        _eog = [];
        foreach (var id in new[] { fimPad, fimRep, fimSep })
        {
            if (id is { } v)
            {
                _eog.Add(v);
            }
        }
        foreach (var i in ordered)
        {
            if (Array.IndexOf(EogNames, Tokens[i]) >= 0)
            {
                _eog.Add(i);
                Attrs[i] |= TokenAttr.Control;
            }
        }
        // gpt-oss: these markers are always rendered (user-defined).
        foreach (var t in new[] { "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>" })
        {
            if (_ids.TryGetValue(t, out var i))
            {
                Attrs[i] = TokenAttr.UserDefined;
            }
        }
        foreach (var id in new[] { eos, eot, eom })
        {
            if (id is { } v)
            {
                _eog.Add(v);
            }
        }
        // o200k_harmony: with <|return|> and <|call|> present, <|end|> does not end generation.
        if (_ids.TryGetValue("<|end|>", out var endId) && _eog.Contains(endId)
            && _ids.TryGetValue("<|return|>", out var ret) && _eog.Contains(ret)
            && _ids.TryGetValue("<|call|>", out var call) && _eog.Contains(call))
        {
            _eog.Remove(endId);
            Attrs[endId] = TokenAttr.UserDefined;
        }
        EndOfGeneration = _eog.Order().ToArray();
        Bos = bos;
        Eos = eos;
        Eot = eot;

        SpecialCache = Enumerable.Range(0, n)
            .Where(i => (Attrs[i] & (TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown)) != 0)
            .OrderByDescending(i => Encoding.UTF8.GetByteCount(Tokens[i])).ThenBy(i => i)
            .ToArray();

        Array.Fill(ByteTokens, -1);
        if (IsSpm)
        {
            for (var b = 0; b < 256; b++)
            {
                if (_ids.TryGetValue($"<0x{b:X2}>", out var id))
                {
                    ByteTokens[b] = id;
                }
                else if (b < 0x80 && _ids.TryGetValue(((char)b).ToString(), out id))
                {
                    ByteTokens[b] = id;
                }
            }
        }

        _piecesSpecial = new byte[n][];
        _pieces = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            _piecesSpecial[i] = BuildPiece(i, source);
            _pieces[i] = (Attrs[i] & (TokenAttr.Unknown | TokenAttr.Control)) != 0 ? [] : _piecesSpecial[i];
        }
    }

    /// <summary>Reads the vocabulary; wrong-typed keys raise the metadata's own GgufException (naming key and file).</summary>
    public static TokenizerVocab Load(GgufMetadata md, string source) => new(md, source);

    public int Lookup(string text) => _ids.TryGetValue(text, out var id) ? id : -1;

    public int Lookup(ReadOnlySpan<char> text) =>
        _ids.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var id) ? id : -1;

    public bool IsEog(int token) => _eog.Contains(token);

    /// <summary>llama_token_to_piece with special = false.</summary>
    public byte[] Piece(int token) => _pieces[token];

    /// <summary>llama_token_to_piece with special = true.</summary>
    public byte[] PieceSpecial(int token) => _piecesSpecial[token];

    private byte[] BuildPiece(int i, string source)
    {
        var attr = Attrs[i];
        var text = Tokens[i];
        if ((attr & (TokenAttr.Unknown | TokenAttr.Control | TokenAttr.UserDefined)) != 0)
        {
            return Encoding.UTF8.GetBytes(text);
        }
        if ((attr & TokenAttr.Normal) != 0)
        {
            return IsSpm ? Encoding.UTF8.GetBytes(text.Replace('\u2581', ' ')) : DecodeByteLevel(text);
        }
        if ((attr & TokenAttr.Byte) != 0)
        {
            // <0xHH>: llama.cpp reads the two characters after "<0x" as hex.
            if (text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text[5] == '>'
                && byte.TryParse(text.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
            {
                return [b];
            }
            throw new GgufException($"{source}: {P}tokens: byte token {i} is '{text}', expected <0xHH>");
        }
        return []; // undefined and unused tokens render as nothing
    }

    // llama_decode_text: every character of a byte-level token is one byte; others are marked, as llama.cpp does.
    private static byte[] DecodeByteLevel(string text)
    {
        var bytes = new List<byte>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            var b = rune.Value < 0x10000 ? ByteLevel.Decode((char)rune.Value) : -1;
            if (b >= 0)
            {
                bytes.Add((byte)b);
                continue;
            }
            var sb = new StringBuilder("[UNK_BYTE_0x");
            var len = rune.EncodeToUtf8(utf8);
            foreach (var u in utf8[..len])
            {
                sb.Append(u.ToString("x2", CultureInfo.InvariantCulture));
            }
            sb.Append(text).Append(']');
            bytes.AddRange(Encoding.UTF8.GetBytes(sb.ToString()));
        }
        return bytes.ToArray();
    }
}
