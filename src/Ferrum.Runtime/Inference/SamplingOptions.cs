namespace Ferrum.Inference;

/// <summary>
/// How the next token is picked from a logits vector, with llama.cpp's meanings (common_params_sampling): the chain
/// top-k → top-p → min-p → temperature → seeded draw. Defaults are llama.cpp's (top_k 40, top_p 0.95, min_p 0.05, temp 0.8).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>llama.cpp's default sampling settings.</summary>
    public static SamplingOptions Default { get; } = new();

    /// <summary>Greedy decoding: always the highest logit (ties to the lowest token id).</summary>
    public static SamplingOptions Greedy { get; } = new() { Temperature = 0f };

    /// <summary>Divides the logits of the kept tokens before the draw. Zero or less means greedy (argmax). Must be finite.</summary>
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keeps only the K highest logits; 0 disables. Must not be negative.</summary>
    public int TopK { get; init; } = 40;

    /// <summary>
    /// Keeps the smallest prefix (by descending probability) whose cumulative probability reaches P, at least one token;
    /// 1 disables. Must be in [0, 1].
    /// </summary>
    public float TopP { get; init; } = 0.95f;

    /// <summary>Drops tokens whose probability is below MinP times the largest probability; 0 disables. Must be in [0, 1].</summary>
    public float MinP { get; init; } = 0.05f;

    /// <summary>Seed of the draw: the same seed gives the same tokens for the same logits. Null picks a random seed.</summary>
    public long? Seed { get; init; }

    /// <summary>True when <see cref="Temperature"/> selects greedy decoding.</summary>
    public bool IsGreedy => Temperature <= 0f;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (!float.IsFinite(Temperature))
            throw new ArgumentException($"Sampling temperature must be a finite number (got {Temperature}); 0 or less means greedy.", nameof(Temperature));
        if (TopK < 0)
            throw new ArgumentException($"Sampling top_k must be 0 (disabled) or positive (got {TopK}).", nameof(TopK));
        if (!(TopP >= 0f && TopP <= 1f))
            throw new ArgumentException($"Sampling top_p must be in [0, 1] (got {TopP}); 1 disables it.", nameof(TopP));
        if (!(MinP >= 0f && MinP <= 1f))
            throw new ArgumentException($"Sampling min_p must be in [0, 1] (got {MinP}); 0 disables it.", nameof(MinP));
    }
}
