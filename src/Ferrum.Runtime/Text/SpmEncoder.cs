using System.Text;
using Ferrum.Gguf;

namespace Ferrum.Text;

/// <summary>
/// SentencePiece-style tokenization as llama.cpp's llm_tokenizer_spm_session does it: one symbol per UTF-8 character,
/// then repeatedly the adjacent pair whose concatenation is a vocabulary token with the highest score (leftmost on
/// ties) is merged; each final symbol is its token, or its bytes' &lt;0xHH&gt; tokens when it is not a token.
/// The input already has spaces replaced by '▁' and the space prefix applied.
/// </summary>
internal sealed class SpmEncoder(TokenizerVocab vocab)
{
    private struct Symbol
    {
        public int Start;
        public int Length;
        public int Prev;
        public int Next;
    }

    private sealed class BigramOrder : IComparer<(float Score, int Left)>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare((float Score, int Left) a, (float Score, int Left) b)
        {
            var c = b.Score.CompareTo(a.Score); // higher score first
            return c != 0 ? c : a.Left.CompareTo(b.Left);
        }
    }

    public void Encode(string text, List<int> output)
    {
        var symbols = new List<Symbol>(text.Length);
        for (var i = 0; i < text.Length;)
        {
            var len = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            var index = symbols.Count;
            symbols.Add(new Symbol { Start = i, Length = len, Prev = index - 1, Next = i + len < text.Length ? index + 1 : -1 });
            i += len;
        }
        var syms = symbols.ToArray();
        var queue = new PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)>(BigramOrder.Instance);
        void TryAdd(int left, int right)
        {
            if (left < 0 || right < 0)
            {
                return;
            }
            var size = syms[left].Length + syms[right].Length;
            var id = vocab.Lookup(text.AsSpan(syms[left].Start, size));
            if (id >= 0)
            {
                queue.Enqueue((left, right, size), (vocab.Scores[id], left));
            }
        }
        for (var i = 1; i < syms.Length; i++)
        {
            TryAdd(i - 1, i);
        }
        while (queue.TryDequeue(out var bigram, out _))
        {
            ref var l = ref syms[bigram.Left];
            ref var r = ref syms[bigram.Right];
            if (l.Length == 0 || r.Length == 0 || l.Length + r.Length != bigram.Size)
            {
                continue;
            }
            l.Length += r.Length;
            r.Length = 0;
            l.Next = r.Next;
            if (r.Next >= 0)
            {
                syms[r.Next].Prev = bigram.Left;
            }
            TryAdd(l.Prev, bigram.Left);
            TryAdd(bigram.Left, l.Next);
        }

        Span<byte> utf8 = stackalloc byte[8];
        for (var i = 0; i >= 0 && syms.Length > 0; i = syms[i].Next)
        {
            var s = syms[i];
            var id = vocab.Lookup(text.AsSpan(s.Start, s.Length));
            if (id >= 0)
            {
                output.Add(id);
                continue;
            }
            // A symbol that is not a token is always a single character here (merges only make tokens): byte fallback.
            var n = Encoding.UTF8.GetBytes(text.AsSpan(s.Start, s.Length), utf8);
            foreach (var b in utf8[..n])
            {
                var bt = vocab.ByteTokens[b];
                if (bt < 0)
                {
                    throw new GgufException(
                        $"tokenizer.ggml.tokens: no byte-fallback token <0x{b:X2}> for character U+{char.ConvertToUtf32(text, s.Start):X4}, which is not in the vocabulary");
                }
                output.Add(bt);
            }
        }
    }
}
