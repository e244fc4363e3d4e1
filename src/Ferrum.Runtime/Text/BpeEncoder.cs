using System.Collections.Concurrent;
using System.Text;

namespace Ferrum.Text;

/// <summary>
/// Byte-level BPE as llama.cpp's llm_tokenizer_bpe_session does it: the text is split into words by the
/// pre-tokenizer, each word's UTF-8 bytes become GPT-2 byte characters, and adjacent symbols are merged lowest merge
/// rank first (leftmost on ties) until no ranked pair is left. With <c>ignore_merges</c> (llama-bpe) a word that is a
/// token as a whole is taken directly. A final symbol that is not a token falls back to single-byte tokens.
/// Words' results are cached (bounded), so repeated words cost one dictionary lookup.
/// </summary>
internal sealed class BpeEncoder(TokenizerVocab vocab)
{
    private const int CacheLimit = 65536;

    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        var cps = CodepointClass.ToCodepoints(text.ToString());
        var start = 0;
        Span<byte> utf8 = stackalloc byte[4];
        var sb = new StringBuilder();
        foreach (var end in vocab.Pre!.SplitCodepoints(cps))
        {
            sb.Clear();
            for (var i = start; i < end; i++)
            {
                var n = new Rune(cps[i]).EncodeToUtf8(utf8);
                for (var k = 0; k < n; k++)
                {
                    sb.Append(ByteLevel.Encode(utf8[k]));
                }
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

    private struct Symbol
    {
        public int Start;
        public int Length;
        public int Prev;
        public int Next;
    }

    private int[] EncodeWord(string word)
    {
        if (vocab.IgnoreMerges && vocab.Lookup(word) is var whole and >= 0)
        {
            return [whole];
        }

        // One symbol per byte character (all of them are single UTF-16 units).
        var symbols = new Symbol[word.Length];
        for (var i = 0; i < word.Length; i++)
        {
            symbols[i] = new Symbol { Start = i, Length = 1, Prev = i - 1, Next = i + 1 < word.Length ? i + 1 : -1 };
        }
        var queue = new PriorityQueue<(int Left, int Right, int Size), (int Rank, int Left)>();
        void TryAdd(int left, int right)
        {
            if (left < 0 || right < 0)
            {
                return;
            }
            ref var l = ref symbols[left];
            ref var r = ref symbols[right];
            var key = (word.Substring(l.Start, l.Length), word.Substring(r.Start, r.Length));
            if (vocab.MergeRanks.TryGetValue(key, out var rank))
            {
                queue.Enqueue((left, right, l.Length + r.Length), (rank, left));
            }
        }
        for (var i = 1; i < symbols.Length; i++)
        {
            TryAdd(i - 1, i);
        }
        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var l = ref symbols[bigram.Left];
            ref var r = ref symbols[bigram.Right];
            // Stale: one side was merged away or grew since this pair was queued.
            if (l.Length == 0 || r.Length == 0 || l.Length + r.Length != bigram.Size)
            {
                continue;
            }
            l.Length += r.Length;
            r.Length = 0;
            l.Next = r.Next;
            if (r.Next >= 0)
            {
                symbols[r.Next].Prev = bigram.Left;
            }
            TryAdd(l.Prev, bigram.Left);
            TryAdd(bigram.Left, l.Next);
        }

        var ids = new List<int>();
        for (var i = 0; i >= 0 && symbols.Length > 0; i = symbols[i].Next)
        {
            var s = symbols[i];
            var id = vocab.Lookup(word.AsSpan(s.Start, s.Length));
            if (id >= 0)
            {
                ids.Add(id);
                continue;
            }
            // llama.cpp looks up each UTF-8 byte of the symbol as a one-byte token; only ASCII bytes can match.
            foreach (var b in Encoding.UTF8.GetBytes(word.Substring(s.Start, s.Length)))
            {
                if (b < 0x80 && vocab.Lookup(((char)b).ToString()) is var single and >= 0)
                {
                    ids.Add(single);
                }
            }
        }
        return ids.ToArray();
    }
}
