using System.Diagnostics;
using Ferrum.Gguf;
using Ferrum.SyntheticModels.Vocab;
using Ferrum.Text;
using Xunit.Abstractions;

namespace Ferrum.Model.Tests.Text;

/// <summary>The synthetic vocabularies' layout, determinism and GGUF round trip (the tokenizer comparisons are elsewhere).</summary>
public class SyntheticVocabularyTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("qwen2", 4096)]
    [InlineData("olmo", 2048)]
    [InlineData("llama-bpe", 8192)]
    public void Bpe_vocabulary_has_the_requested_size_bytes_merges_and_specials(string pre, int size)
    {
        var sw = Stopwatch.StartNew();
        var v = SyntheticVocabulary.Bpe(pre, size);
        output.WriteLine($"{v} in {sw.ElapsedMilliseconds} ms");

        Assert.Equal(size, v.Count);
        Assert.Equal("gpt2", v.Model);
        Assert.Equal(pre, v.Pre);
        for (var b = 0; b < 256; b++)
        {
            Assert.Equal(ByteLevel.Encode((byte)b).ToString(), v.Tokens[b]);
        }
        // Every merge joins two existing tokens into an existing token, as llama.cpp's BPE needs.
        foreach (var m in v.Merges)
        {
            var parts = m.Split(' ');
            Assert.Equal(2, parts.Length);
            Assert.True(v.Contains(parts[0]) && v.Contains(parts[1]) && v.Contains(parts[0] + parts[1]), m);
        }
        Assert.NotNull(v.BosTokenId);
        Assert.NotNull(v.EosTokenId);
        Assert.All(v.SpecialTokens.Values, id => Assert.True(v.TokenTypes[id] is TokenType.Control or TokenType.UserDefined));
        Assert.Same(v, SyntheticVocabulary.Bpe(pre, size));
    }

    [Fact]
    public void Qwen2_vocabulary_carries_the_chat_tokens()
    {
        var v = SyntheticVocabulary.Bpe("qwen2", 2048);
        Assert.Equal(v.TokenId("<|im_end|>"), v.EosTokenId);
        Assert.Equal(v.TokenId("<|endoftext|>"), v.BosTokenId);
        Assert.Equal(TokenType.Control, v.TokenTypes[v.TokenId("<|im_start|>")]);
        Assert.Equal(TokenType.UserDefined, v.TokenTypes[v.TokenId("<tool_call>")]);
        Assert.False(v.AddBosToken);
        Assert.Contains("<|im_start|>", v.ChatTemplate);
    }

    [Fact]
    public void SentencePiece_vocabulary_has_unk_controls_byte_fallback_and_scored_pieces()
    {
        var v = SyntheticVocabulary.SentencePiece(2048);
        Assert.Equal(2048, v.Count);
        Assert.Equal("llama", v.Model);
        Assert.Null(v.Pre);
        Assert.Equal(["<unk>", "<s>", "</s>"], v.Tokens.Take(3));
        Assert.Equal([TokenType.Unknown, TokenType.Control, TokenType.Control], v.TokenTypes.Take(3));
        for (var b = 0; b < 256; b++)
        {
            Assert.Equal($"<0x{b:X2}>", v.Tokens[3 + b]);
            Assert.Equal(TokenType.Byte, v.TokenTypes[3 + b]);
        }
        Assert.Contains("\u2581the", v.Tokens);
        Assert.Empty(v.Merges);
        Assert.Equal(v.Count, v.Scores!.Count);
        Assert.True(v.AddBosToken);
        Assert.Equal((0, 1, 2), (v.UnknownTokenId, v.BosTokenId, v.EosTokenId));
    }

    [Fact]
    public void Training_is_deterministic()
    {
        // A size no other test asks for, so both calls train (the cache is keyed by size).
        var a = SyntheticVocabulary.Bpe("olmo", 1000);
        var tokens = a.Tokens.ToArray();
        var merges = a.Merges.ToArray();
        var again = typeof(SyntheticVocabulary).GetMethod("BuildBpe",
            System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .Invoke(null, ["olmo", 1000]) as SyntheticVocabulary;
        Assert.Equal(tokens, again!.Tokens);
        Assert.Equal(merges, again.Merges);
    }

    [Fact]
    public void WriteTo_puts_every_tokenizer_key_into_the_gguf()
    {
        var v = SyntheticVocabulary.Bpe("llama-bpe", 2048);
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", "llama");
        v.WriteTo(w);
        using var f = GgufFile.Open(w.ToArray());
        var md = f.Metadata;
        Assert.Equal("gpt2", md.GetString("tokenizer.ggml.model"));
        Assert.Equal("llama-bpe", md.GetString("tokenizer.ggml.pre"));
        Assert.Equal(v.Tokens, md.GetArray<string>("tokenizer.ggml.tokens"));
        Assert.Equal(v.TokenTypes.Select(t => (int)t), md.GetArray<int>("tokenizer.ggml.token_type"));
        Assert.Equal(v.Merges, md.GetArray<string>("tokenizer.ggml.merges"));
        Assert.Equal((uint)v.BosTokenId!, md.GetUInt32("tokenizer.ggml.bos_token_id"));
        Assert.Equal((uint)v.EotTokenId!, md.GetUInt32("tokenizer.ggml.eot_token_id"));
        Assert.True(md.GetBool("tokenizer.ggml.add_bos_token"));
        Assert.False(md.Contains("tokenizer.ggml.scores"));
    }
}
