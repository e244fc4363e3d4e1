using System.Text.RegularExpressions;
using Ferrum.SyntheticModels.Vocab;
using Ferrum.Text;
using Microsoft.ML.Tokenizers;
using Xunit.Abstractions;

namespace Ferrum.Model.Tests.Text;

/// <summary>
/// Where Microsoft.ML.Tokenizers 3.0.0 does not reproduce llama.cpp on the same vocabularies, measured against
/// libllama: why Ferrum.Text hand-writes the pre-tokenizer and the SentencePiece tokenizer. (Its BpeTokenizer merge
/// step does reproduce llama.cpp and is what Ferrum's BpeEncoder uses; the llama.cpp comparisons cover it.)
/// </summary>
public class MicrosoftMlTokenizersVsLlamaCppTests(ITestOutputHelper output)
{
    private static BpeTokenizer MlBpe(SyntheticVocabulary v, PreTokenizer pre) => BpeTokenizer.Create(
        new BpeOptions(v.Tokens.Select((t, i) => new KeyValuePair<string, int>(t, i)).Where(kv => v.TokenTypes[kv.Value] == TokenType.Normal))
        {
            Merges = v.Merges,
            ByteLevel = true,
            PreTokenizer = pre,
        });

    // Cases without special-token text (Microsoft.ML.Tokenizers is given no special tokens here).
    private static List<string> PlainCases(string name) => TokenizerCases.All(name.Sum(c => c))
        .Where(t => !t.Contains('<') && !t.Contains('>')).ToList();

    [Fact]
    public void Regex_pre_tokenizer_over_utf16_differs_from_llama_cpp_outside_the_bmp()
    {
        // llama.cpp's llama3 pattern, run by .NET's Regex over UTF-16 code units.
        var (vocab, _, llama) = GgufTokenizerVsLlamaCppTests.Get("llama-bpe");
        var regex = new Regex(@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            RegexOptions.Compiled);
        var ml = MlBpe(vocab, new RegexPreTokenizer(regex, null));
        // U+1D518 is a letter outside the BMP: llama.cpp's scanner keeps "a𝔘b" one word; in UTF-16 its surrogate
        // halves are not \p{L}, so the regex splits it into three.
        const string text = "a\U0001D518b";
        Assert.Equal([text], BpePreTokenizer.Get("llama-bpe").Split(text));
        Assert.Equal([(0, 1), (1, 2), (3, 1)], new RegexPreTokenizer(regex, null).PreTokenize(text));
        var cases = PlainCases("llama-bpe");
        var differ = cases.Count(t => !llama.Tokenize(t, false, false).SequenceEqual(ml.EncodeToIds(t)));
        output.WriteLine($"llama-bpe with RegexPreTokenizer: {cases.Count} texts, {differ} tokenize differently from llama.cpp");
    }

    [Fact]
    public void In_memory_SentencePiece_tokenizer_is_unigram_not_llama_cpp_bigram_merges()
    {
        // SentencePieceTokenizer.Create(pieces, scores, …) builds a Unigram (Viterbi) model; llama.cpp's SPM merges
        // the best-scoring adjacent pair greedily. On the same scored pieces the two segmentations differ.
        var (vocab, _, llama) = GgufTokenizerVsLlamaCppTests.Get("spm");
        var pieces = vocab.Tokens.Select((t, i) => (t, vocab.Scores![i]));
        var ml = SentencePieceTokenizer.Create(pieces, 0, false, false, default, true, true, false, true,
            new Dictionary<string, int> { ["<s>"] = 1, ["</s>"] = 2 });
        var cases = PlainCases("spm");
        var differ = cases.Count(t => !llama.Tokenize(t, false, false).SequenceEqual(ml.EncodeToIds(t, false, false)));
        output.WriteLine($"spm with SentencePieceTokenizer (unigram): {cases.Count} texts, {differ} differ from llama.cpp");
        Assert.True(differ > 0);
    }
}
