namespace Ferrum.SyntheticModels.Vocab;

/// <summary>
/// Learns BPE merges from word counts: repeatedly merges the most frequent adjacent pair of symbols (ties broken by
/// the pair's text, ordinal), so the result is deterministic. Pair counts are kept incrementally with an index from
/// each pair to the words holding it, and a lazily invalidated priority queue picks the best pair.
/// </summary>
internal static class BpeTrainer
{
    /// <summary>One learned merge: the two symbols and the symbol they make.</summary>
    public readonly record struct Merge(string Left, string Right)
    {
        public string Result => Left + Right;
    }

    /// <summary>
    /// Learns merges until <paramref name="newSymbols"/> distinct new symbols exist (or no pair is left).
    /// <paramref name="words"/> are initial symbol sequences with their counts.
    /// </summary>
    public static List<Merge> Train(IReadOnlyList<(string[] Symbols, long Count)> words, int newSymbols)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new List<string>();
        int Id(string s)
        {
            if (!ids.TryGetValue(s, out var id))
            {
                id = names.Count;
                ids.Add(s, id);
                names.Add(s);
            }
            return id;
        }

        var seqs = new List<int>[words.Count];
        var counts = new long[words.Count];
        for (var w = 0; w < words.Count; w++)
        {
            seqs[w] = words[w].Symbols.Select(Id).ToList();
            counts[w] = words[w].Count;
        }

        var pairCount = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        var queue = new PriorityQueue<long, (long Count, string Left, string Right)>(
            Comparer<(long Count, string Left, string Right)>.Create((a, b) =>
            {
                var c = b.Count.CompareTo(a.Count);
                if (c != 0)
                {
                    return c;
                }
                c = string.CompareOrdinal(a.Left, b.Left);
                return c != 0 ? c : string.CompareOrdinal(a.Right, b.Right);
            }));
        var dirty = new HashSet<long>();

        static long Key(int a, int b) => ((long)a << 32) | (uint)b;

        void AddPairs(int w, long sign)
        {
            var s = seqs[w];
            for (var i = 0; i + 1 < s.Count; i++)
            {
                var k = Key(s[i], s[i + 1]);
                pairCount[k] = pairCount.GetValueOrDefault(k) + sign * counts[w];
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(k, out var set))
                    {
                        pairWords[k] = set = [];
                    }
                    set.Add(w);
                }
                dirty.Add(k);
            }
        }

        void Flush()
        {
            foreach (var k in dirty)
            {
                var c = pairCount.GetValueOrDefault(k);
                if (c > 0)
                {
                    queue.Enqueue(k, (c, names[(int)(k >> 32)], names[(int)(uint)k]));
                }
            }
            dirty.Clear();
        }

        for (var w = 0; w < seqs.Length; w++)
        {
            AddPairs(w, +1);
        }
        Flush();

        var merges = new List<Merge>();
        var seen = new HashSet<Merge>();
        var created = 0;
        while (created < newSymbols && queue.TryDequeue(out var key, out var pri))
        {
            if (pairCount.GetValueOrDefault(key) != pri.Count)
            {
                continue; // stale entry: the pair's count changed and a fresh entry was queued
            }
            int a = (int)(key >> 32), b = (int)(uint)key;
            var merge = new Merge(names[a], names[b]);
            if (!ids.ContainsKey(merge.Result))
            {
                created++;
            }
            var c = Id(merge.Result);
            if (seen.Add(merge))
            {
                merges.Add(merge);
            }

            var holders = pairWords[key].ToArray();
            Array.Sort(holders);
            foreach (var w in holders)
            {
                AddPairs(w, -1);
                var s = seqs[w];
                for (var i = 0; i + 1 < s.Count; i++)
                {
                    if (s[i] == a && s[i + 1] == b)
                    {
                        s[i] = c;
                        s.RemoveAt(i + 1);
                    }
                }
                AddPairs(w, +1);
            }
            pairCount.Remove(key);
            pairWords.Remove(key);
            dirty.Remove(key);
            Flush();
        }
        return merges;
    }
}
