namespace Ferrum.Text;

/// <summary>
/// Cuts special tokens out of text before tokenization, as llama.cpp's tokenizer_st_partition does: for each special
/// token in turn (longest text first), every remaining text fragment is split at each occurrence (leftmost first, no
/// overlaps). Control and unknown tokens are only matched when parsing specials; user-defined tokens always are.
/// </summary>
internal static class SpecialTokenPartition
{
    /// <summary>A piece of the input: a special token (<see cref="Token"/> ≥ 0) or raw text at Offset/Length.</summary>
    public readonly record struct Fragment(int Token, int Offset, int Length);

    public static List<Fragment> Split(TokenizerVocab vocab, string text, bool parseSpecial)
    {
        var fragments = new List<Fragment>();
        if (text.Length == 0)
        {
            return fragments;
        }
        fragments.Add(new Fragment(-1, 0, text.Length));
        var next = new List<Fragment>();
        foreach (var id in vocab.SpecialCache)
        {
            if (!parseSpecial && (vocab.Attrs[id] & (TokenAttr.Control | TokenAttr.Unknown)) != 0)
            {
                continue;
            }
            var special = vocab.Tokens[id];
            var found = false;
            next.Clear();
            foreach (var f in fragments)
            {
                if (f.Token >= 0)
                {
                    next.Add(f);
                    continue;
                }
                int start = f.Offset, end = f.Offset + f.Length;
                while (start < end)
                {
                    var at = text.IndexOf(special, start, end - start, StringComparison.Ordinal);
                    if (at < 0)
                    {
                        break;
                    }
                    found = true;
                    if (at > start)
                    {
                        next.Add(new Fragment(-1, start, at - start));
                    }
                    next.Add(new Fragment(id, at, special.Length));
                    start = at + special.Length;
                }
                if (start < end)
                {
                    next.Add(new Fragment(-1, start, end - start));
                }
            }
            if (found)
            {
                (fragments, next) = (next, fragments);
            }
        }
        return fragments;
    }
}
