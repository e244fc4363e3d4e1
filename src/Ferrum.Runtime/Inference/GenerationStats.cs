namespace Ferrum.Inference;

/// <summary>Counts and timings of one generation (llama.cpp's "prompt eval" and "eval" lines).</summary>
public sealed record GenerationStats
{
    /// <summary>Tokens of the prompt.</summary>
    public int PromptTokens { get; init; }

    /// <summary>Prompt tokens whose KV cache entries were reused from the previous generation (not evaluated again).</summary>
    public int CachedPromptTokens { get; init; }

    /// <summary>Tokens sampled (the end-of-generation token included).</summary>
    public int GeneratedTokens { get; init; }

    /// <summary>Single-token evaluations (each sampled token that was fed back to the model).</summary>
    public int DecodedTokens { get; init; }

    /// <summary>Time of the prompt batch evaluation.</summary>
    public TimeSpan PromptTime { get; init; }

    /// <summary>Time of the single-token evaluations.</summary>
    public TimeSpan DecodeTime { get; init; }

    /// <summary>Time spent sampling.</summary>
    public TimeSpan SampleTime { get; init; }

    /// <summary>Why the generation ended; null when it was cancelled or failed.</summary>
    public FinishReason? FinishReason { get; init; }

    /// <summary>Evaluated prompt tokens per second (0 when none were evaluated).</summary>
    public double PromptTokensPerSecond =>
        PromptTime > TimeSpan.Zero ? (PromptTokens - CachedPromptTokens) / PromptTime.TotalSeconds : 0;

    /// <summary>Single-token evaluations per second (0 when there were none).</summary>
    public double DecodeTokensPerSecond => DecodeTime > TimeSpan.Zero ? DecodedTokens / DecodeTime.TotalSeconds : 0;

    /// <inheritdoc />
    public override string ToString() =>
        $"prompt: {PromptTokens} tokens ({CachedPromptTokens} cached), {PromptTime.TotalMilliseconds:F1} ms, {PromptTokensPerSecond:F1} tok/s; " +
        $"generated: {GeneratedTokens} tokens, decode {DecodedTokens} in {DecodeTime.TotalMilliseconds:F1} ms, {DecodeTokensPerSecond:F1} tok/s; " +
        $"sampling {SampleTime.TotalMilliseconds:F1} ms; finish: {FinishReason?.ToString() ?? "none"}";
}
