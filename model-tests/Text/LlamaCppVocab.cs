using System.Text;
using Ferrum.Gguf;
using Ferrum.SyntheticModels.Vocab;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Ferrum.Model.Tests.Text;

/// <summary>
/// llama.cpp's own tokenizer (libllama through LLamaSharp 0.30.0) over a vocabulary-only GGUF: the reference the
/// Ferrum tokenizer is compared with. Loading fails (and so the test fails) when libllama cannot be loaded.
/// </summary>
internal sealed class LlamaCppVocab : IDisposable
{
    private static readonly object LogLock = new();
    private static bool _quiet;

    private readonly LLamaWeights _weights;

    public LlamaCppVocab(string path)
    {
        lock (LogLock)
        {
            if (!_quiet)
            {
                NativeLogConfig.llama_log_set((_, _) => { }); // llama.cpp prints the whole vocabulary summary otherwise
                _quiet = true;
            }
        }
        Path = path;
        _weights = LLamaWeights.LoadFromFile(new ModelParams(path) { VocabOnly = true, GpuLayerCount = 0 });
    }

    public string Path { get; }

    public SafeLlamaModelHandle.Vocabulary Vocab => _weights.NativeHandle.Vocab;

    /// <summary>
    /// Writes a GGUF llama.cpp loads with vocab_only: general.architecture = llama and the hyper-parameters its
    /// loader reads before the vocabulary (context, embedding, block count, heads, RMS epsilon), no tensors.
    /// </summary>
    public static string WriteVocabOnlyGguf(SyntheticVocabulary vocab, string name)
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", "llama");
        w.AddMetadata("llama.context_length", 2048u);
        w.AddMetadata("llama.embedding_length", 64u);
        w.AddMetadata("llama.block_count", 1u);
        w.AddMetadata("llama.feed_forward_length", 128u);
        w.AddMetadata("llama.attention.head_count", 2u);
        w.AddMetadata("llama.attention.head_count_kv", 2u);
        w.AddMetadata("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.AddMetadata("llama.rope.dimension_count", 32u);
        w.AddMetadata("llama.vocab_size", (uint)vocab.Count);
        vocab.WriteTo(w);
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ferrum-tokenizer-tests");
        Directory.CreateDirectory(dir);
        var path = System.IO.Path.Combine(dir, $"{name}-{Environment.ProcessId}.gguf");
        w.WriteTo(path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(path);
        return path;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // still mapped or already gone: the temp directory keeps it
        }
    }

    /// <summary>llama_tokenize.</summary>
    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial) =>
        _weights.NativeHandle.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8).Select(t => (int)t).ToArray();

    /// <summary>llama_token_to_piece with lstrip 0.</summary>
    public byte[] Piece(int token, bool special)
    {
        var buffer = new byte[256];
        var n = (int)_weights.NativeHandle.TokenToSpan(token, buffer, 0, special);
        if (n > buffer.Length)
        {
            buffer = new byte[n];
            n = (int)_weights.NativeHandle.TokenToSpan(token, buffer, 0, special);
        }
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>llama_vocab_is_eog.</summary>
    public bool IsEog(int token) => ((LLamaToken)token).IsEndOfGeneration(Vocab);

    public void Dispose() => _weights.Dispose();
}
