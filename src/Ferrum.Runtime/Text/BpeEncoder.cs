using System.Collections.Concurrent;
using System.Text;
using Ferrum.Gguf;
using Microsoft.ML.Tokenizers;

namespace Ferrum.Text;

/// <summary>
/// Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session does it: the text is split into words by Ferrum's
/// pre-tokenizer (<see cref="BpePreTokenizer"/>), each word's UTF-8 bytes become GPT-2 byte characters, and adjacent
/// symbols are merged lowest merge rank first (leftmost on ties). With <c>ignore_merges</c> (llama-bpe) a word that
/// is a token as a whole is taken directly, as llama.cpp does.
/// <para>
/// The merge step is Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (byte-level, one pre-split word at a time):
/// it applies merges exactly as llama.cpp does for any vocabulary Hugging Face tokenizers can load, i.e. one where
/// every byte has its token and every merge joins two tokens into a token. Such vocabularies are required here (a
/// <see cref="GgufException"/> names the offending byte or merge); llama.cpp would accept others and fall back to
/// per-byte lookups, which no real vocabulary needs. Results are cached per word (bounded).
/// </para>
/// </summary>
internal sealed class BpeEncoder
{
    private const int CacheLimit = 65536;

    private readonly TokenizerVocab _vocab;
    private readonly BpeTokenizer _merger;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public BpeEncoder(TokenizerVocab vocab, string source)
    {
        _vocab = vocab;
        for (var b = 0; b < 256; b++)
        {
            var c = ByteLevel.Encode((byte)b);
            if (vocab.Lookup(c.ToString()) < 0)
            {
                throw new GgufException(
                    $"{source}: tokenizer.ggml.tokens: the byte-level vocabulary has no token for byte 0x{b:X2} ('{c}')");
            }
        }

        // llama.cpp splits each merge at its first space after the first character and keeps the first rank of a
        // repeated pair; a part containing a space can never match a byte-level symbol.
        var merges = new List<string>(vocab.Merges.Count);
        var seen = new HashSet<(string, string)>();
        for (var r = 0; r < vocab.Merges.Count; r++)
        {
            var m = vocab.Merges[r];
            var sp = m.Length > 1 ? m.IndexOf(' ', 1) : -1;
            if (sp < 0)
            {
                continue;
            }
            var (left, right) = (m[..sp], m[(sp + 1)..]);
            if (left.Contains(' ') || right.Contains(' ') || !seen.Add((left, right)))
            {
                continue;
            }
            foreach (var part in new[] { left, right, left + right })
            {
                if (vocab.Lookup(part) < 0)
                {
                    throw new GgufException($"{source}: tokenizer.ggml.merges[{r}] '{m}': '{part}' is not a token");
                }
            }
            merges.Add(left + " " + right);
        }

        _merger = BpeTokenizer.Create(new BpeOptions(vocab.Tokens.Select((t, i) => new KeyValuePair<string, int>(t, i)))
        {
            Merges = merges,
            ByteLevel = true,
        });
    }

    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        var s = text.ToString();
        var cps = CodepointClass.ToCodepoints(s);
        var start = 0;
        var sb = new StringBuilder();
        foreach (var end in _vocab.Pre!.SplitCodepoints(cps))
        {
            sb.Clear();
            for (var i = start; i < end; i++)
            {
                sb.Append(char.ConvertFromUtf32(cps[i]));
            }
            start = end;
            var word = sb.ToString();
            if (!_cache.TryGetValue(word, out var ids))
            {
                ids = EncodeWord(word);
                if (_cache.Count >= CacheLimit)
                {
                    _cache.Clear();
                }
                _cache[word] = ids;
            }
            output.AddRange(ids);
        }
    }

    private int[] EncodeWord(string word)
    {
        if (_vocab.IgnoreMerges && _vocab.Lookup(ByteLevel.Encode(Encoding.UTF8.GetBytes(word))) is var whole and >= 0)
        {
            return [whole];
        }
        return _merger.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false).ToArray();
    }
}
