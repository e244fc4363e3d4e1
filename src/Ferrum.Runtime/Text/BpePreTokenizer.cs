using System.Globalization;
using System.Text;

namespace Ferrum.Text;

/// <summary>
/// Splits text into the words a byte-level BPE vocabulary merges within, as llama.cpp does for one
/// <c>tokenizer.ggml.pre</c>. The three supported pre-tokenizers use these regexes (from llama.cpp's llama-vocab.cpp):
/// <list type="bullet">
/// <item><c>llama-bpe</c>: <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c></item>
/// <item><c>qwen2</c>: the same with <c>\p{N}</c> (one digit per word) instead of <c>\p{N}{1,3}</c>.</item>
/// <item><c>olmo</c>: GPT-2's <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)</c>.</item>
/// </list>
/// Hand-written over code points rather than with <see cref="System.Text.RegularExpressions.Regex"/>: .NET regexes
/// match UTF-16 code units, so a character outside the BMP (emoji, rare CJK) is two "characters" that
/// <c>[^\r\n\p{L}\p{N}]?</c> could split, and llama.cpp itself runs these patterns as hand-written code-point scanners
/// (gpt2, llama3) or as std::regex over one byte per code point (qwen2), including its quirks for unassigned code
/// points, which are reproduced here.
/// </summary>
public sealed class BpePreTokenizer
{
    private enum Kind
    {
        Gpt2,
        Llama3,
        Qwen2,
    }

    private readonly Kind _kind;

    private BpePreTokenizer(string name, Kind kind)
    {
        Name = name;
        _kind = kind;
    }

    /// <summary>The <c>tokenizer.ggml.pre</c> values this pre-tokenizer implements.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["qwen2", "olmo", "llama-bpe"];

    /// <summary>The <c>tokenizer.ggml.pre</c> name.</summary>
    public string Name { get; }

    /// <summary>The pre-tokenizer for one <c>tokenizer.ggml.pre</c> value, or null when it is not supported.</summary>
    public static BpePreTokenizer? TryGet(string pre) => pre switch
    {
        "qwen2" => new BpePreTokenizer(pre, Kind.Qwen2),
        "olmo" => new BpePreTokenizer(pre, Kind.Gpt2),
        "llama-bpe" => new BpePreTokenizer(pre, Kind.Llama3),
        _ => null,
    };

    /// <summary>The pre-tokenizer for one <c>tokenizer.ggml.pre</c> value.</summary>
    /// <exception cref="ArgumentException">The value is not one of <see cref="Supported"/>.</exception>
    public static BpePreTokenizer Get(string pre) => TryGet(pre)
        ?? throw new ArgumentException(
            $"pre-tokenizer '{pre}' is not supported (supported: {string.Join(", ", Supported)})", nameof(pre));

    /// <summary>Splits <paramref name="text"/> into words (substrings, in order, covering the whole text).</summary>
    public List<string> Split(string text)
    {
        var cps = CodepointClass.ToCodepoints(text);
        var words = new List<string>();
        var sb = new StringBuilder();
        var start = 0;
        foreach (var end in SplitCodepoints(cps))
        {
            sb.Clear();
            for (var i = start; i < end; i++)
            {
                sb.Append(char.ConvertFromUtf32(cps[i]));
            }
            words.Add(sb.ToString());
            start = end;
        }
        return words;
    }

    /// <summary>The end offsets (exclusive, in code points) of the words of <paramref name="cps"/>.</summary>
    public List<int> SplitCodepoints(ReadOnlySpan<int> cps)
    {
        var ends = new List<int>();
        if (_kind == Kind.Gpt2)
        {
            SplitGpt2(cps, ends);
        }
        else
        {
            SplitLlama3(cps, _kind == Kind.Llama3 ? 3 : 1, _kind == Kind.Qwen2, ends);
        }
        return ends;
    }

    // Per code point: the classes the scanners test. "Defined" is false for unassigned code points, which llama.cpp's
    // tables give no flags at all (and its gpt2/llama3 scanners then match nothing, leaving a one-code-point word).
    private readonly record struct Flags(bool Letter, bool Number, bool Whitespace, bool Defined);

    private static Flags FlagsAt(ReadOnlySpan<int> cps, int pos)
    {
        if ((uint)pos >= (uint)cps.Length)
        {
            return default;
        }
        var cp = cps[pos];
        var ws = CodepointClass.IsWhitespace(cp);
        if (cp < 0x80)
        {
            return new Flags(CodepointClass.IsLetter(cp), CodepointClass.IsNumber(cp), ws, true);
        }
        var cat = CharUnicodeInfo.GetUnicodeCategory(cp);
        return new Flags(CodepointClass.IsLetter(cp), CodepointClass.IsNumber(cp), ws,
            ws || cat != UnicodeCategory.OtherNotAssigned);
    }

    private static int CpAt(ReadOnlySpan<int> cps, int pos) => (uint)pos < (uint)cps.Length ? cps[pos] : -1;

    private static void Add(List<int> ends, int end)
    {
        var prev = ends.Count == 0 ? 0 : ends[^1];
        if (end > prev)
        {
            ends.Add(end);
        }
    }

    private static bool IsPunct(Flags f) => !(f.Whitespace || f.Letter || f.Number) && f.Defined;

    private static void SplitGpt2(ReadOnlySpan<int> cps, List<int> ends)
    {
        var pos = 0;
        while (pos < cps.Length)
        {
            var cp = cps[pos];
            var flags = FlagsAt(cps, pos);
            if (cp == '\'' && pos + 1 < cps.Length)
            {
                var n1 = cps[pos + 1];
                if (n1 is 's' or 't' or 'm' or 'd')
                {
                    pos += 2;
                    Add(ends, pos);
                    continue;
                }
                if (pos + 2 < cps.Length)
                {
                    var n2 = cps[pos + 2];
                    if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l'))
                    {
                        pos += 3;
                        Add(ends, pos);
                        continue;
                    }
                }
            }

            var flags2 = cp == ' ' ? FlagsAt(cps, pos + 1) : flags;
            if (flags2.Letter || flags2.Number || IsPunct(flags2))
            {
                // " ?\p{L}+", " ?\p{N}+" or " ?[^\s\p{L}\p{N}]+": one run of the same class after an optional space.
                Func<Flags, bool> same = flags2.Letter ? f => f.Letter : flags2.Number ? f => f.Number : IsPunct;
                if (cp == ' ')
                {
                    pos++;
                }
                while (same(FlagsAt(cps, pos)))
                {
                    pos++;
                }
                Add(ends, pos);
                continue;
            }

            var nws = 0;
            while (FlagsAt(cps, pos + nws).Whitespace)
            {
                nws++;
            }
            if (nws > 1 && pos + nws < cps.Length)
            {
                pos += nws - 1; // \s+(?!\S): leave the last space to the word that follows
                Add(ends, pos);
                continue;
            }
            pos += Math.Max(nws, 1); // \s+, or a code point nothing matches
            Add(ends, pos);
        }
    }

    private static void SplitLlama3(ReadOnlySpan<int> cps, int maxDigits, bool regexPunct, List<int> ends)
    {
        var pos = 0;
        while (pos < cps.Length)
        {
            var cp = cps[pos];
            var flags = FlagsAt(cps, pos);

            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if (cp == '\'' && pos + 1 < cps.Length)
            {
                var n1 = ToLower(cps[pos + 1]);
                if (n1 is 's' or 't' or 'm' or 'd')
                {
                    pos += 2;
                    Add(ends, pos);
                    continue;
                }
                if (pos + 2 < cps.Length)
                {
                    var n2 = ToLower(cps[pos + 2]);
                    if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l'))
                    {
                        pos += 3;
                        Add(ends, pos);
                        continue;
                    }
                }
            }

            // [^\r\n\p{L}\p{N}]?\p{L}+
            if (!(cp == '\r' || cp == '\n' || flags.Number) && (flags.Letter || FlagsAt(cps, pos + 1).Letter))
            {
                pos++;
                while (FlagsAt(cps, pos).Letter)
                {
                    pos++;
                }
                Add(ends, pos);
                continue;
            }

            // \p{N}{1,3} (llama-bpe) or \p{N} (qwen2)
            if (flags.Number)
            {
                var ini = pos;
                while (FlagsAt(cps, pos).Number)
                {
                    if (++pos - ini >= maxDigits)
                    {
                        Add(ends, pos);
                        ini = pos;
                    }
                }
                Add(ends, pos);
                continue;
            }

            //  ?[^\s\p{L}\p{N}]+[\r\n]*
            // llama.cpp's llama3 scanner requires a defined code point (its flags non-zero); qwen2 goes through
            // std::regex, where an unassigned code point is just another "not space, letter or number".
            var flags2 = cp == ' ' ? FlagsAt(cps, pos + 1) : flags;
            var length = cps.Length;
            bool PunctAt(Flags f, int at) => !(f.Whitespace || f.Letter || f.Number) && (regexPunct ? at < length : f.Defined);
            if (!(flags2.Whitespace || flags2.Letter || flags2.Number)
                && (regexPunct ? PunctAt(flags2, cp == ' ' ? pos + 1 : pos) : flags.Defined))
            {
                if (cp == ' ')
                {
                    pos++;
                }
                while (PunctAt(FlagsAt(cps, pos), pos))
                {
                    pos++;
                }
                while (CpAt(cps, pos) is '\r' or '\n')
                {
                    pos++;
                }
                Add(ends, pos);
                continue;
            }

            var nws = 0;
            var lastNewlineEnd = 0;
            while (FlagsAt(cps, pos + nws).Whitespace)
            {
                if (cps[pos + nws] is '\r' or '\n')
                {
                    lastNewlineEnd = pos + nws + 1;
                }
                nws++;
            }
            if (lastNewlineEnd > 0)
            {
                pos = lastNewlineEnd; // \s*[\r\n]+
                Add(ends, pos);
                continue;
            }
            if (nws > 1 && pos + nws < cps.Length)
            {
                pos += nws - 1; // \s+(?!\S)
                Add(ends, pos);
                continue;
            }
            pos += Math.Max(nws, 1); // \s+, or a code point nothing matches
            Add(ends, pos);
        }
    }

    private static int ToLower(int cp) => cp < 0x80
        ? (cp is >= 'A' and <= 'Z' ? cp + 32 : cp)
        : cp <= 0xFFFF ? char.ToLowerInvariant((char)cp) : cp;
}
