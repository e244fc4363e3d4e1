using System.Text;
using Ferrum.Gguf;
using Ferrum.SyntheticModels.Vocab;
using Ferrum.Text;

namespace Ferrum.Model.Tests.Text;

/// <summary>
/// GgufTokenizer's errors on bad metadata, the pre-tokenizer's word splits (hand-derived from llama.cpp's regexes)
/// and the streaming detokenizer. The comparisons with llama.cpp are in <see cref="GgufTokenizerVsLlamaCppTests"/>.
/// </summary>
public class GgufTokenizerTests
{
    private static GgufTokenizer Load(Action<GgufWriter> write)
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", "llama");
        write(w);
        using var f = GgufFile.Open(w.ToArray(), "test.gguf");
        return GgufTokenizer.FromGguf(f);
    }

    private static readonly string[] Bytes = Enumerable.Range(0, 256).Select(b => ByteLevel.Encode((byte)b).ToString()).ToArray();

    private static void MinimalBpe(GgufWriter w, string pre = "qwen2", string model = "gpt2")
    {
        w.AddMetadata("tokenizer.ggml.model", model);
        w.AddMetadata("tokenizer.ggml.pre", pre);
        w.AddMetadata("tokenizer.ggml.tokens", Bytes.Append("ab").Append("<|endoftext|>").ToArray());
        w.AddMetadata("tokenizer.ggml.merges", new[] { "a b" });
    }

    [Fact]
    public void Minimal_bpe_vocabulary_loads_with_llama_cpp_defaults()
    {
        var t = Load(w => MinimalBpe(w));
        Assert.Equal(258, t.VocabSize);
        Assert.Equal(11, t.BosToken); // llama.cpp's BPE default, in range here
        Assert.False(t.AddBos);
        Assert.Equal([256, 'c'], t.Encode("abc")); // "ab" by the one merge, then the byte token of 'c' (id 99)
        Assert.True(t.IsEndOfGeneration(257)); // <|endoftext|> is recognised by its text
        Assert.Equal(t.TokenId("<|endoftext|>"), t.EotToken);
    }

    [Fact]
    public void Missing_model_key_names_the_key()
    {
        var e = Assert.Throws<GgufException>(() => Load(_ => { }));
        Assert.Contains("tokenizer.ggml.model", e.Message);
        Assert.Contains("test.gguf", e.Message);
    }

    [Fact]
    public void Unknown_model_lists_the_supported_ones()
    {
        var e = Assert.Throws<GgufException>(() => Load(w => MinimalBpe(w, model: "bert")));
        Assert.Contains("'bert'", e.Message);
        Assert.Contains("gpt2, llama", e.Message);
    }

    [Fact]
    public void Unknown_or_missing_pre_tokenizer_lists_the_supported_ones()
    {
        var e = Assert.Throws<GgufException>(() => Load(w => MinimalBpe(w, pre: "deepseek-llm")));
        Assert.Contains("tokenizer.ggml.pre", e.Message);
        Assert.Contains("'deepseek-llm'", e.Message);
        Assert.Contains("qwen2, olmo, llama-bpe", e.Message);

        e = Assert.Throws<GgufException>(() => Load(w =>
        {
            w.AddMetadata("tokenizer.ggml.model", "gpt2");
            w.AddMetadata("tokenizer.ggml.tokens", Bytes);
            w.AddMetadata("tokenizer.ggml.merges", Array.Empty<string>());
        }));
        Assert.Contains("tokenizer.ggml.pre", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Missing_tokens_or_merges_name_the_key()
    {
        var e = Assert.Throws<GgufException>(() => Load(w => w.AddMetadata("tokenizer.ggml.model", "llama")));
        Assert.Contains("tokenizer.ggml.tokens", e.Message);

        e = Assert.Throws<GgufException>(() => Load(w =>
        {
            w.AddMetadata("tokenizer.ggml.model", "gpt2");
            w.AddMetadata("tokenizer.ggml.pre", "olmo");
            w.AddMetadata("tokenizer.ggml.tokens", Bytes);
        }));
        Assert.Contains("tokenizer.ggml.merges", e.Message);
    }

    [Fact]
    public void Inconsistent_arrays_ids_and_flags_are_errors_naming_the_key()
    {
        var e = Assert.Throws<GgufException>(() => Load(w =>
        {
            MinimalBpe(w);
            w.AddMetadata("tokenizer.ggml.token_type", new[] { 1, 1, 1 });
        }));
        Assert.Contains("tokenizer.ggml.token_type", e.Message);
        Assert.Contains("3 entries for 258 tokens", e.Message);

        e = Assert.Throws<GgufException>(() => Load(w =>
        {
            MinimalBpe(w);
            w.AddMetadata("tokenizer.ggml.eos_token_id", 9999u);
        }));
        Assert.Contains("tokenizer.ggml.eos_token_id", e.Message);
        Assert.Contains("9999", e.Message);

        e = Assert.Throws<GgufException>(() => Load(w =>
        {
            w.AddMetadata("tokenizer.ggml.model", "gpt2");
            w.AddMetadata("tokenizer.ggml.pre", "qwen2");
            w.AddMetadata("tokenizer.ggml.tokens", new[] { "a", "b", "a" });
            w.AddMetadata("tokenizer.ggml.merges", Array.Empty<string>());
        }));
        Assert.Contains("duplicate token 'a' at ids 0 and 2", e.Message);

        e = Assert.Throws<GgufException>(() => Load(w =>
        {
            w.AddMetadata("tokenizer.ggml.model", "gpt2");
            w.AddMetadata("tokenizer.ggml.pre", "qwen2");
            w.AddMetadata("tokenizer.ggml.tokens", new[] { "a", "b" });
            w.AddMetadata("tokenizer.ggml.merges", Array.Empty<string>());
            w.AddMetadata("tokenizer.ggml.add_bos_token", true);
        }));
        Assert.Contains("tokenizer.ggml.add_bos_token", e.Message);

        e = Assert.Throws<GgufException>(() => Load(w =>
        {
            MinimalBpe(w);
            w.AddMetadata("tokenizer.ggml.scores", new[] { "not", "floats" });
        }));
        Assert.Contains("tokenizer.ggml.scores", e.Message);
    }

    [Fact]
    public void Byte_level_vocabulary_needs_every_byte_token_and_merges_of_tokens()
    {
        var e = Assert.Throws<GgufException>(() => Load(w =>
        {
            w.AddMetadata("tokenizer.ggml.model", "gpt2");
            w.AddMetadata("tokenizer.ggml.pre", "olmo");
            w.AddMetadata("tokenizer.ggml.tokens", Bytes.Where(b => b != "Ġ").ToArray());
            w.AddMetadata("tokenizer.ggml.merges", Array.Empty<string>());
        }));
        Assert.Contains("byte 0x20 ('Ġ')", e.Message);

        e = Assert.Throws<GgufException>(() => Load(w =>
        {
            w.AddMetadata("tokenizer.ggml.model", "gpt2");
            w.AddMetadata("tokenizer.ggml.pre", "olmo");
            w.AddMetadata("tokenizer.ggml.tokens", Bytes);
            w.AddMetadata("tokenizer.ggml.merges", new[] { "a b" });
        }));
        Assert.Contains("tokenizer.ggml.merges[0] 'a b': 'ab' is not a token", e.Message);
    }

    [Fact]
    public void Token_ids_out_of_range_are_argument_errors()
    {
        var t = Load(w => MinimalBpe(w));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.TokenBytes(258));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Decode([1, -1]));
    }

    // Word splits derived by hand from llama.cpp's regexes for each pre-tokenizer.
    [Theory]
    [InlineData("llama-bpe", "Hello world 1234 don't", new[] { "Hello", " world", " ", "123", "4", " don", "'t" })]
    [InlineData("llama-bpe", "a\n\nb", new[] { "a", "\n\n", "b" })]
    [InlineData("llama-bpe", "😀abc", new[] { "😀abc" })]
    [InlineData("llama-bpe", "x  y  ", new[] { "x", " ", " y", "  " })]
    [InlineData("llama-bpe", "WE'RE ok?!\n", new[] { "WE", "'RE", " ok", "?!\n" })]
    [InlineData("qwen2", "x 12", new[] { "x", " ", "1", "2" })]
    [InlineData("qwen2", " ...\r\n\tz", new[] { " ...\r\n", "\tz" })]
    [InlineData("olmo", "Hello  world", new[] { "Hello", " ", " world" })]
    [InlineData("olmo", "a\n\nb", new[] { "a", "\n", "\n", "b" })]
    [InlineData("olmo", "😀abc", new[] { "😀", "abc" })]
    [InlineData("olmo", "I'M 42x", new[] { "I", "'", "M", " 42", "x" })]
    public void Pre_tokenizer_splits_words_like_llama_cpp(string pre, string text, string[] words)
    {
        Assert.Equal(words, BpePreTokenizer.Get(pre).Split(text));
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("spm")]
    public void Streaming_detokenizer_never_splits_a_character_and_adds_up_to_decode(string name)
    {
        var t = GgufTokenizerVsLlamaCppTests.Get(name).Ferrum;
        const string text = "Grüße 👩‍💻 日本語 🇫🇷 naïve — done.";
        var tokens = t.Encode(text, addSpecial: false);
        var stream = new StreamingDetokenizer(t);
        var sb = new StringBuilder();
        var partials = 0;
        foreach (var tok in tokens)
        {
            var piece = stream.Append(tok);
            Assert.DoesNotContain('\uFFFD', piece);
            Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a surrogate pair was split");
            partials += piece.Length == 0 ? 1 : 0;
            sb.Append(piece);
        }
        sb.Append(stream.Flush());
        var expected = name == "spm" ? " " + text : text;
        Assert.Equal(expected, sb.ToString());
        Assert.Equal(t.Decode(tokens), sb.ToString());
        Assert.True(partials > 0, "the text should need multi-token characters (byte fallback or byte-level pieces)");
    }

    [Fact]
    public void Streaming_detokenizer_flushes_an_unfinished_character_as_replacement()
    {
        var t = GgufTokenizerVsLlamaCppTests.Get("spm").Ferrum;
        var stream = new StreamingDetokenizer(t);
        Assert.Equal("", stream.Append(3 + 0xE6)); // first byte of a three-byte character
        Assert.Equal("", stream.Append(3 + 0x97));
        Assert.Equal("\uFFFD", stream.Flush());
    }
}
