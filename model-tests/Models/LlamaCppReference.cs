using LLama;
using LLama.Common;
using LLama.Native;

namespace Ferrum.Model.Tests.Models;

/// <summary>What llama.cpp produced for a prompt: the prompt's last logits, then each greedy step's token and logits.</summary>
public sealed record ReferenceRun(float[] PromptLogits, int[] Tokens, float[][] StepLogits)
{
    /// <summary>With the prompt decoded token by token: the logits after each prompt token.</summary>
    public float[][]? PrefixLogits { get; init; }
}

/// <summary>
/// llama.cpp (libllama through LLamaSharp 0.30.0) as the reference: load the GGUF on the CPU, a context with an f16
/// KV cache and flash attention off, decode the prompt as one batch (logits of the last token), then greedy-decode
/// one token per batch, reading the logits with llama_get_logits_ith.
/// </summary>
public static class LlamaCppReference
{
    /// <summary>Runs <paramref name="prompt"/> and <paramref name="steps"/> greedy steps on <paramref name="path"/>.</summary>
    public static ReferenceRun Greedy(string path, int[] prompt, int steps, int threads = 2, bool promptTokenByToken = false)
    {
        var p = new ModelParams(path)
        {
            ContextSize = (uint)(prompt.Length + steps + 8),
            BatchSize = 512,
            UBatchSize = 512,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F16,
            TypeV = GGMLType.GGML_TYPE_F16,
            FlashAttention = false,
        };
        using var weights = LLamaWeights.LoadFromFile(p);
        using var ctx = weights.CreateContext(p);
        int vocab = weights.Vocab.Count;
        var batch = new LLamaBatch();
        var prefix = new List<float[]>();
        for (int i = 0; i < prompt.Length; i++)
        {
            batch.Add(prompt[i], i, LLamaSeqId.Zero, promptTokenByToken || i == prompt.Length - 1);
            if (promptTokenByToken && i < prompt.Length - 1)
            {
                Decode(ctx, batch);
                prefix.Add(ctx.NativeHandle.GetLogitsIth(0).Slice(0, vocab).ToArray());
                batch.Clear();
            }
        }

        Decode(ctx, batch);
        var promptLogits = ctx.NativeHandle.GetLogitsIth(batch.TokenCount - 1).Slice(0, vocab).ToArray();
        var tokens = new int[steps];
        var stepLogits = new float[steps][];
        var last = promptLogits;
        for (int s = 0; s < steps; s++)
        {
            tokens[s] = ArgMax(last);
            batch.Clear();
            batch.Add(tokens[s], prompt.Length + s, LLamaSeqId.Zero, true);
            Decode(ctx, batch);
            last = ctx.NativeHandle.GetLogitsIth(0).Slice(0, vocab).ToArray();
            stepLogits[s] = last;
        }

        if (promptTokenByToken)
        {
            prefix.Add(promptLogits);
        }

        return new ReferenceRun(promptLogits, tokens, stepLogits) { PrefixLogits = promptTokenByToken ? prefix.ToArray() : null };
    }

    private static void Decode(LLamaContext ctx, LLamaBatch batch)
    {
        var r = ctx.Decode(batch);
        if (r != DecodeResult.Ok)
        {
            throw new InvalidOperationException($"llama_decode failed: {r}");
        }
    }

    /// <summary>Index of the largest logit (the first on ties, as a plain greedy sampler).</summary>
    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
        {
            if (x[i] > x[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Normalized mean squared error Σ(a−b)² / Σb².</summary>
    public static double Nmse(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double num = 0, den = 0;
        for (int i = 0; i < b.Length; i++)
        {
            double d = a[i] - b[i];
            num += d * d;
            den += (double)b[i] * b[i];
        }

        return num / den;
    }

    /// <summary>Top-1 minus top-2 logit.</summary>
    public static float Margin(ReadOnlySpan<float> x)
    {
        float a = float.NegativeInfinity, b = float.NegativeInfinity;
        foreach (var v in x)
        {
            if (v > a)
            {
                b = a;
                a = v;
            }
            else if (v > b)
            {
                b = v;
            }
        }

        return a - b;
    }
}
