using Ferrum.Gguf;

namespace Ferrum.SyntheticModels;

/// <summary>
/// The tokenizer metadata written into synthetic whole models (the one place to re-point at another vocabulary):
/// a byte-level BPE ("gpt2") vocabulary of the requested size, <c>&lt;|endoftext|&gt;</c> (control, BOS = EOS),
/// the 256 byte tokens of GPT-2's byte-to-unicode map, then two- and three-symbol tokens each with its merge rule.
/// </summary>
public static class ModelVocabulary
{
    /// <summary>Token id of &lt;|endoftext|&gt;.</summary>
    public const int EndOfText = 0;

    /// <summary>Writes tokenizer.ggml.* for <paramref name="size"/> tokens.</summary>
    public static void WriteTo(GgufWriter writer, int size)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var byteChars = ByteToUnicode();
        var tokens = new List<string> { "<|endoftext|>" };
        tokens.AddRange(byteChars);
        var merges = new List<string>();

        // Pairs of printable ASCII symbols (letters first) as merged tokens: a genuine, if small, BPE.
        var symbols = Enumerable.Range('a', 26).Concat(Enumerable.Range('A', 26)).Concat(Enumerable.Range('0', 10))
            .Select(c => ((char)c).ToString()).Append("Ġ").ToArray();
        foreach (var a in symbols)
        {
            foreach (var b in symbols)
            {
                if (tokens.Count >= size)
                {
                    break;
                }

                if (b == "Ġ")
                {
                    continue;
                }

                tokens.Add(a + b);
                merges.Add(a + " " + b);
            }
        }

        // Then three-symbol tokens built on the pairs ("ab" + "c"), for larger vocabularies.
        for (int i = 0; i < symbols.Length - 1 && tokens.Count < size; i++)
        {
            for (int j = 0; j < symbols.Length - 1 && tokens.Count < size; j++)
            {
                for (int k = 0; k < symbols.Length - 1 && tokens.Count < size; k++)
                {
                    tokens.Add(symbols[i] + symbols[j] + symbols[k]);
                    merges.Add(symbols[i] + symbols[j] + " " + symbols[k]);
                }
            }
        }

        if (tokens.Count < size)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"the built-in vocabulary has at most {tokens.Count} tokens");
        }

        var types = new int[size];
        Array.Fill(types, 1);
        types[EndOfText] = 3;
        writer.AddMetadata("tokenizer.ggml.model", "gpt2")
            .AddMetadata("tokenizer.ggml.pre", "default")
            .AddMetadata("tokenizer.ggml.tokens", tokens.ToArray())
            .AddMetadata("tokenizer.ggml.token_type", types)
            .AddMetadata("tokenizer.ggml.merges", merges.ToArray())
            .AddMetadata("tokenizer.ggml.bos_token_id", (uint)EndOfText)
            .AddMetadata("tokenizer.ggml.eos_token_id", (uint)EndOfText)
            .AddMetadata("tokenizer.ggml.add_bos_token", false);
    }

    // GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards.
    private static string[] ByteToUnicode()
    {
        var map = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = ((char)(printable ? b : next++)).ToString();
        }

        return map;
    }
}
