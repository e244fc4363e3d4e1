using System.Globalization;
using System.Text;
using Ferrum.SyntheticModels.Vocab;

namespace Ferrum.Model.Tests.Text;

/// <summary>The texts the tokenizer is compared on (the same for every vocabulary).</summary>
internal static class TokenizerCases
{
    /// <summary>Sentences not in the training corpus.</summary>
    public static readonly string[] HeldOut =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Tokenizers are tested against llama.cpp, token for token.",
        "She sells sea shells by the sea shore; the shells she sells are surely seashells.",
        "In 2031 the observatory recorded 4,096 bright flashes over 17 nights.",
        "Why would anyone write a tokenizer twice? To be sure it is right!",
        "Pack my box with five dozen liquor jugs.",
        "Über die Brücke gingen zwölf Männer, während es regnete.",
        "Les élèves ont préparé une présentation sur l'économie.",
        "今日は良い天気ですね。明日も晴れるでしょうか？",
        "模型在推理时只激活少数专家。",
        "Grüße 👋 from the 🌍 — see you at 9:30!",
        "public static int Add(int a, int b) => a + b;",
        "for (var i = 0; i < n; i++) { sum += x[i] * w[i]; }",
        "def tokenize(text):\n    return [t for t in text.split() if t]\n",
        "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;",
        "{\"role\": \"user\", \"content\": \"Hello there\"}",
        "Mixture-of-experts routers pick the top-k experts per token.",
        "A \"quoted\" word, an 'apostrophe', and a (parenthetical) remark.",
    ];

    /// <summary>Hand-picked edge cases: whitespace, digits, contractions, punctuation, scripts, special-token text.</summary>
    public static readonly string[] EdgeCases =
    [
        "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "  \n\n  ", "a  b", "a   b", "a\tb", "a\t\tb",
        "a \n b", "trailing   ", "   leading", "\t\tindented", "line1\nline2\r\nline3", "x\u00A0y", "x\u3000y",
        "\u2003\u2003z", " \u00A0 ", "end\n", "\n\nstart",
        "1", "12", "123", "1234", "12345", "1234567890123", "3.14159", "1,000,000", "0x1F", "-42", "+7", "1e-6",
        "٣٤٥", "①②③", "Ⅻ", "²³", "a1b22c333d4444",
        "don't", "I'M", "we'Ve", "it's", "'s", "O'Neil's", "'''", "'ll've", "you're", "THEY'RE", "'D", "rock'n'roll",
        "...", "?!?!", "((()))", "a.b,c;d:e", "—–-", "«»", "#!/bin/sh", "<<<>>>", "<|", "|>", "<|im", "end|>",
        "@@", "~~~", "^_^", "$$$", "\\n", "//", "/* */", "::", "=>", "!=", "&&||",
        "naïve café", "résumé", "Ærøskøbing", "東京", "中文分词", "한국어", "😀", "👩‍💻", "🇫🇷", "a😀b", "😀abc",
        " 😀", "😀 ", "😀😀😀", "e\u0301", "ǅemal", "ﬁne", "Ωmega", "αβγ", "Привет, мир", "مرحبا", "नमस्ते", "ไทย",
        "\u200Bzero width", "tab\tand\u000Bvt", "A\u0000B", "\u0001\u0002",
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", " <|endoftext|> ",
        "<|im_end|><|im_end|>", "x<|im_start|>y", "<tool_call>{\"a\":1}</tool_call>", "<tool_call", "</tool_call>x",
        "<s>hello</s>", "<unk>", " <s> ", "</s></s>", "<s",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<|eot_id|>", "<|padding|>",
        "<0x41>", "<0x0A>", "▁", "▁▁a", "a▁b",
    ];

    /// <summary>Lines of the training corpus (every 7th non-empty line, at most 120).</summary>
    public static IEnumerable<string> CorpusLines() => Corpus.Text.Split('\n')
        .Where(l => l.Trim().Length > 0).Where((_, i) => i % 7 == 0).Take(120);

    /// <summary>Seeded random strings over letters, digits, whitespace, punctuation, accents, CJK, emoji and special-token pieces.</summary>
    public static IEnumerable<string> Random(int count, int seed)
    {
        var pools = new[]
        {
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "0123456789",
            "     \t\n\r\u00A0",
            "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
            "àáâäæçèéêëìíîïñòóôöøùúûüýÿßœÀÉÎÖÜ",
            "日本語中文字東京学习模型分词天気",
            "αβγδεζηθλμπσωЖИЙКЛМНПРСТ",
        };
        string[] emoji = ["😀", "🎉", "👍", "🚀", "❤️", "🇫🇷", "👩‍💻", "✅", "𝔘", "𠀋"];
        string[] pieces =
        [
            "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>", "<|eot_id|>", "<tool_call>", "'s",
            "'re", "'LL", "<|", "|>", "the", " the", "ing", "tion", "...", "\r\n", "  ", "<0x20>", "▁",
        ];
        var rng = new System.Random(seed);
        for (var n = 0; n < count; n++)
        {
            var sb = new StringBuilder();
            var len = rng.Next(0, 40);
            for (var i = 0; i < len; i++)
            {
                var r = rng.Next(100);
                if (r < 8)
                {
                    sb.Append(emoji[rng.Next(emoji.Length)]);
                }
                else if (r < 18)
                {
                    sb.Append(pieces[rng.Next(pieces.Length)]);
                }
                else
                {
                    var pool = pools[rng.Next(pools.Length)];
                    sb.Append(pool[rng.Next(pool.Length)]);
                }
            }
            yield return sb.ToString();
        }
    }

    /// <summary>Every case: edge cases, held-out sentences, corpus lines, 200 random strings.</summary>
    public static List<string> All(int seed) =>
        EdgeCases.Concat(HeldOut).Concat(CorpusLines()).Concat(Random(200, seed)).ToList();

    public static string Show(string s) => string.Concat(s.Select(c =>
        c < 0x20 || c == 0x7F ? $"\\x{(int)c:X2}" : c.ToString(CultureInfo.InvariantCulture)));
}
