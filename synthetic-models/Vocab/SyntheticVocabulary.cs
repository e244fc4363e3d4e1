using System.Collections.Concurrent;
using Ferrum.Gguf;
using Ferrum.Text;

namespace Ferrum.SyntheticModels.Vocab;

/// <summary>
/// A real tokenizer vocabulary for a synthetic model, trained deterministically on the shipped <see cref="Corpus"/>:
/// either a byte-level BPE (<c>tokenizer.ggml.model = gpt2</c>) for one of llama.cpp's pre-tokenizers (qwen2, olmo,
/// llama-bpe), or a SentencePiece-style vocabulary (<c>tokenizer.ggml.model = llama</c>) with byte fallback.
/// <see cref="WriteTo"/> puts it into a GGUF being written. Vocabularies are trained on first use (well under a
/// second for a few thousand tokens) and cached for the process.
/// </summary>
public sealed class SyntheticVocabulary
{
    private static readonly ConcurrentDictionary<string, Lazy<SyntheticVocabulary>> Cache = new();

    private readonly Dictionary<string, int> _ids;

    private SyntheticVocabulary(string model, string? pre, List<string> tokens, List<TokenType> types,
        List<float>? scores, List<string> merges)
    {
        Model = model;
        Pre = pre;
        Tokens = tokens;
        TokenTypes = types;
        Scores = scores;
        Merges = merges;
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < tokens.Count; i++)
        {
            if (!_ids.TryAdd(tokens[i], i))
            {
                throw new InvalidOperationException($"duplicate token '{tokens[i]}' at ids {_ids[tokens[i]]} and {i}");
            }
        }
        SpecialTokens = Enumerable.Range(0, tokens.Count)
            .Where(i => types[i] is TokenType.Control or TokenType.UserDefined)
            .ToDictionary(i => tokens[i], i => i, StringComparer.Ordinal);
    }

    /// <summary>The BPE pre-tokenizers a vocabulary can be trained for (<c>tokenizer.ggml.pre</c>).</summary>
    public static IReadOnlyList<string> SupportedPreTokenizers => BpePreTokenizer.Supported;

    /// <summary><c>tokenizer.ggml.model</c>: "gpt2" (byte-level BPE) or "llama" (SentencePiece-style).</summary>
    public string Model { get; }

    /// <summary><c>tokenizer.ggml.pre</c> for BPE vocabularies; null for the SentencePiece vocabulary (not written).</summary>
    public string? Pre { get; }

    /// <summary><c>tokenizer.ggml.tokens</c>: every token's text, by id.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary><c>tokenizer.ggml.token_type</c>, by id.</summary>
    public IReadOnlyList<TokenType> TokenTypes { get; }

    /// <summary><c>tokenizer.ggml.scores</c> (SentencePiece merge priorities, higher first); null for BPE.</summary>
    public IReadOnlyList<float>? Scores { get; }

    /// <summary><c>tokenizer.ggml.merges</c> ("left right", by rank) for BPE; empty for SentencePiece.</summary>
    public IReadOnlyList<string> Merges { get; }

    /// <summary>Number of tokens.</summary>
    public int Count => Tokens.Count;

    /// <summary>Beginning-of-sequence token (<c>tokenizer.ggml.bos_token_id</c>).</summary>
    public int? BosTokenId { get; private init; }

    /// <summary>End-of-sequence token (<c>tokenizer.ggml.eos_token_id</c>).</summary>
    public int? EosTokenId { get; private init; }

    /// <summary>End-of-turn token (<c>tokenizer.ggml.eot_token_id</c>), when the vocabulary has one.</summary>
    public int? EotTokenId { get; private init; }

    /// <summary>Padding token (<c>tokenizer.ggml.padding_token_id</c>), when the vocabulary has one.</summary>
    public int? PadTokenId { get; private init; }

    /// <summary>Unknown token (<c>tokenizer.ggml.unknown_token_id</c>), SentencePiece only.</summary>
    public int? UnknownTokenId { get; private init; }

    /// <summary><c>tokenizer.ggml.add_bos_token</c>.</summary>
    public bool AddBosToken { get; private init; }

    /// <summary><c>tokenizer.ggml.add_eos_token</c>.</summary>
    public bool AddEosToken { get; private init; }

    /// <summary><c>tokenizer.ggml.add_space_prefix</c> (SentencePiece only; null when not written).</summary>
    public bool? AddSpacePrefix { get; private init; }

    /// <summary><c>tokenizer.chat_template</c> (a Jinja template of the family the vocabulary imitates), or null.</summary>
    public string? ChatTemplate { get; private init; }

    /// <summary>The control and user-defined tokens by text (e.g. &lt;|im_start|&gt;), matched in text when parsing specials.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The id of a token by its exact text.</summary>
    /// <exception cref="KeyNotFoundException">No token has that text.</exception>
    public int TokenId(string text) => _ids.TryGetValue(text, out var id)
        ? id
        : throw new KeyNotFoundException($"no token '{text}' in the {Model}/{Pre ?? "spm"} vocabulary");

    /// <summary>True when some token has exactly this text.</summary>
    public bool Contains(string text) => _ids.ContainsKey(text);

    /// <summary>
    /// A byte-level BPE vocabulary of exactly <paramref name="size"/> tokens for the pre-tokenizer
    /// <paramref name="pre"/> (qwen2, olmo or llama-bpe): the 256 byte tokens, the learned merges' results, then the
    /// family's special tokens (qwen2: &lt;|endoftext|&gt;, &lt;|im_start|&gt;, &lt;|im_end|&gt; and the user-defined
    /// &lt;tool_call&gt;, &lt;/tool_call&gt;; llama-bpe: &lt;|begin_of_text|&gt;, &lt;|end_of_text|&gt;,
    /// &lt;|start_header_id|&gt;, &lt;|end_header_id|&gt;, &lt;|eot_id|&gt;; olmo: &lt;|endoftext|&gt;, &lt;|padding|&gt;).
    /// </summary>
    public static SyntheticVocabulary Bpe(string pre = "qwen2", int size = 4096)
    {
        ArgumentNullException.ThrowIfNull(pre);
        _ = BpePreTokenizer.Get(pre);
        if (size is < 300 or > 32768)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "BPE vocabulary size must be in [300, 32768]");
        }
        return Cache.GetOrAdd($"bpe/{pre}/{size}", _ => new Lazy<SyntheticVocabulary>(() => BuildBpe(pre, size))).Value;
    }

    /// <summary>
    /// A SentencePiece-style vocabulary (llama.cpp's SPM) of exactly <paramref name="size"/> tokens: &lt;unk&gt; (0),
    /// &lt;s&gt; (1), &lt;/s&gt; (2), the byte-fallback tokens &lt;0x00&gt;…&lt;0xFF&gt; (3…258), the corpus's
    /// characters, then pieces learned by merging (spaces as '▁', U+2581), scored so that earlier merges win.
    /// </summary>
    public static SyntheticVocabulary SentencePiece(int size = 2048)
    {
        if (size is < 600 or > 32768)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "SentencePiece vocabulary size must be in [600, 32768]");
        }
        return Cache.GetOrAdd($"spm/{size}", _ => new Lazy<SyntheticVocabulary>(() => BuildSpm(size))).Value;
    }

    /// <summary>
    /// Writes every <c>tokenizer.ggml.*</c> key llama.cpp reads (model, pre, tokens, token_type, scores or merges,
    /// bos/eos/eot/padding/unknown ids, add_bos_token, add_eos_token, add_space_prefix) and
    /// <c>tokenizer.chat_template</c> when the vocabulary has one.
    /// </summary>
    public void WriteTo(GgufWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.AddMetadata("tokenizer.ggml.model", Model);
        if (Pre is not null)
        {
            w.AddMetadata("tokenizer.ggml.pre", Pre);
        }
        w.AddMetadata("tokenizer.ggml.tokens", Tokens.ToArray());
        w.AddMetadata("tokenizer.ggml.token_type", TokenTypes.Select(t => (int)t).ToArray());
        if (Scores is not null)
        {
            w.AddMetadata("tokenizer.ggml.scores", Scores.ToArray());
        }
        if (Model == "gpt2")
        {
            w.AddMetadata("tokenizer.ggml.merges", Merges.ToArray());
        }
        void Id(string key, int? id)
        {
            if (id is { } v)
            {
                w.AddMetadata(key, (uint)v);
            }
        }
        Id("tokenizer.ggml.bos_token_id", BosTokenId);
        Id("tokenizer.ggml.eos_token_id", EosTokenId);
        Id("tokenizer.ggml.eot_token_id", EotTokenId);
        Id("tokenizer.ggml.unknown_token_id", UnknownTokenId);
        Id("tokenizer.ggml.padding_token_id", PadTokenId);
        w.AddMetadata("tokenizer.ggml.add_bos_token", AddBosToken);
        w.AddMetadata("tokenizer.ggml.add_eos_token", AddEosToken);
        if (AddSpacePrefix is { } asp)
        {
            w.AddMetadata("tokenizer.ggml.add_space_prefix", asp);
        }
        if (ChatTemplate is not null)
        {
            w.AddMetadata("tokenizer.chat_template", ChatTemplate);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Model}/{Pre ?? "spm"} vocabulary, {Count} tokens, {Merges.Count} merges";

    private static SyntheticVocabulary BuildBpe(string pre, int size)
    {
        var specials = BpeSpecials(pre);
        var splitter = BpePreTokenizer.Get(pre);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (_, text) in Corpus.Documents)
        {
            foreach (var word in splitter.Split(text))
            {
                counts[word] = counts.GetValueOrDefault(word) + 1;
            }
        }
        var words = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (ByteLevel.Encode(System.Text.Encoding.UTF8.GetBytes(kv.Key)).Select(c => c.ToString()).ToArray(), kv.Value))
            .ToList();

        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.Encode((byte)b).ToString()).ToList();
        var wanted = size - tokens.Count - specials.Count;
        var merges = BpeTrainer.Train(words, wanted);
        var known = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (var m in merges)
        {
            if (known.Add(m.Result))
            {
                tokens.Add(m.Result);
            }
        }
        if (tokens.Count != 256 + wanted)
        {
            throw new InvalidOperationException(
                $"the corpus yields only {tokens.Count - 256} merged tokens, {wanted} wanted for a {size}-token {pre} vocabulary");
        }
        var types = Enumerable.Repeat(TokenType.Normal, tokens.Count).ToList();
        foreach (var (text, type) in specials)
        {
            tokens.Add(text);
            types.Add(type);
        }
        var mergeStrings = merges.Select(m => m.Left + " " + m.Right).ToList();
        var v = new SyntheticVocabulary("gpt2", pre, tokens, types, null, mergeStrings);
        return pre switch
        {
            "qwen2" => new SyntheticVocabulary("gpt2", pre, tokens, types, null, mergeStrings)
            {
                BosTokenId = v.TokenId("<|endoftext|>"),
                EosTokenId = v.TokenId("<|im_end|>"),
                EotTokenId = v.TokenId("<|im_end|>"),
                PadTokenId = v.TokenId("<|endoftext|>"),
                AddBosToken = false,
                AddEosToken = false,
                ChatTemplate = ChatMlTemplate,
            },
            "llama-bpe" => new SyntheticVocabulary("gpt2", pre, tokens, types, null, mergeStrings)
            {
                BosTokenId = v.TokenId("<|begin_of_text|>"),
                EosTokenId = v.TokenId("<|end_of_text|>"),
                EotTokenId = v.TokenId("<|eot_id|>"),
                AddBosToken = true,
                AddEosToken = false,
                ChatTemplate = Llama3Template,
            },
            _ => new SyntheticVocabulary("gpt2", pre, tokens, types, null, mergeStrings)
            {
                BosTokenId = v.TokenId("<|endoftext|>"),
                EosTokenId = v.TokenId("<|endoftext|>"),
                PadTokenId = v.TokenId("<|padding|>"),
                AddBosToken = false,
                AddEosToken = false,
            },
        };
    }

    private static List<(string, TokenType)> BpeSpecials(string pre) => pre switch
    {
        "qwen2" =>
        [
            ("<|endoftext|>", TokenType.Control), ("<|im_start|>", TokenType.Control), ("<|im_end|>", TokenType.Control),
            ("<tool_call>", TokenType.UserDefined), ("</tool_call>", TokenType.UserDefined),
        ],
        "llama-bpe" =>
        [
            ("<|begin_of_text|>", TokenType.Control), ("<|end_of_text|>", TokenType.Control),
            ("<|start_header_id|>", TokenType.Control), ("<|end_header_id|>", TokenType.Control),
            ("<|eot_id|>", TokenType.Control),
        ],
        _ => [("<|endoftext|>", TokenType.Control), ("<|padding|>", TokenType.Control)],
    };

    private const char SpmSpace = '\u2581';

    private static SyntheticVocabulary BuildSpm(int size)
    {
        // SentencePiece words: whitespace-separated chunks, each with '▁' standing for the space before it.
        var wordCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        var charCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (_, text) in Corpus.Documents)
        {
            foreach (var chunk in text.Split([' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries))
            {
                var word = SpmSpace + chunk;
                wordCounts[word] = wordCounts.GetValueOrDefault(word) + 1;
                foreach (var rune in word.EnumerateRunes())
                {
                    var s = rune.ToString();
                    charCounts[s] = charCounts.GetValueOrDefault(s) + 1;
                }
            }
        }

        // Characters seen at least twice get a piece; rarer ones are left to byte fallback.
        var chars = charCounts.Where(kv => kv.Value >= 2 && !char.IsControl(kv.Key, 0))
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => kv.Key).ToList();
        var charSet = new HashSet<string>(chars, StringComparer.Ordinal);
        var wanted = size - 3 - 256 - chars.Count;
        if (wanted < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size,
                $"a SentencePiece vocabulary needs more than {3 + 256 + chars.Count} tokens for this corpus");
        }

        // Rare characters split a word: no learned piece contains a character that has no piece of its own.
        var words = new List<(string[], long)>();
        foreach (var (word, count) in wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var run = new List<string>();
            foreach (var rune in word.EnumerateRunes())
            {
                var s = rune.ToString();
                if (charSet.Contains(s))
                {
                    run.Add(s);
                    continue;
                }
                if (run.Count > 1)
                {
                    words.Add((run.ToArray(), count));
                }
                run.Clear();
            }
            if (run.Count > 1)
            {
                words.Add((run.ToArray(), count));
            }
        }
        var merges = BpeTrainer.Train(words, wanted);

        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<TokenType> { TokenType.Unknown, TokenType.Control, TokenType.Control };
        var scores = new List<float> { 0, 0, 0 };
        for (var b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            types.Add(TokenType.Byte);
            scores.Add(0);
        }
        var known = new HashSet<string>(tokens.Concat(chars), StringComparer.Ordinal);
        var pieces = new List<string>();
        foreach (var m in merges)
        {
            if (known.Add(m.Result))
            {
                pieces.Add(m.Result);
            }
        }
        if (pieces.Count != wanted)
        {
            throw new InvalidOperationException(
                $"the corpus yields only {pieces.Count} merged pieces, {wanted} wanted for a {size}-token SentencePiece vocabulary");
        }
        // Scores: earlier merges score higher (llama.cpp merges the highest-scoring bigram first); single characters
        // score below every merged piece (their scores never decide a merge).
        for (var i = 0; i < pieces.Count; i++)
        {
            tokens.Add(pieces[i]);
            types.Add(TokenType.Normal);
            scores.Add(-(i + 1));
        }
        for (var i = 0; i < chars.Count; i++)
        {
            tokens.Add(chars[i]);
            types.Add(TokenType.Normal);
            scores.Add(-(pieces.Count + 1 + i));
        }
        return new SyntheticVocabulary("llama", null, tokens, types, scores, [])
        {
            UnknownTokenId = 0,
            BosTokenId = 1,
            EosTokenId = 2,
            AddBosToken = true,
            AddEosToken = false,
            AddSpacePrefix = true,
        };
    }

    private const string ChatMlTemplate =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
        + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private const string Llama3Template =
        "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        + " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
}
