using System.Globalization;

namespace Ferrum.Text;

/// <summary>
/// The Unicode classes the pre-tokenizer regexes ask about (\p{L}, \p{N}, \s), for one code point. llama.cpp answers
/// these from its own tables (unicode-data.cpp); the general categories and the White_Space set below are the same
/// Unicode properties.
/// </summary>
internal static class CodepointClass
{
    /// <summary>\p{L}: Lu, Ll, Lt, Lm, Lo.</summary>
    public static bool IsLetter(int cp) => cp < 0x80
        ? (uint)((cp | 0x20) - 'a') <= 'z' - 'a'
        : CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
            or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter;

    /// <summary>\p{N}: Nd, Nl, No.</summary>
    public static bool IsNumber(int cp) => cp < 0x80
        ? (uint)(cp - '0') <= 9
        : CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber
            or UnicodeCategory.OtherNumber;

    /// <summary>\s: the Unicode White_Space property (llama.cpp's whitespace table).</summary>
    public static bool IsWhitespace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D => true,
        0x20 or 0x85 or 0xA0 or 0x1680 or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000 => true,
        >= 0x2000 and <= 0x200A => true,
        _ => false,
    };

    /// <summary>The code points of a string (an unpaired surrogate becomes U+FFFD, as its UTF-8 encoding would).</summary>
    public static int[] ToCodepoints(string text)
    {
        var result = new int[text.Length];
        var n = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            result[n++] = rune.Value;
        }
        return n == result.Length ? result : result.AsSpan(0, n).ToArray();
    }
}
