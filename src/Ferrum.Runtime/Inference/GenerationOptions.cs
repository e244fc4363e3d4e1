namespace Ferrum.Inference;

/// <summary>Settings of one generation.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to sample (the end-of-generation token counts). At least 1.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>How each token is picked.</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Default;

    /// <summary>Generation stops when the text contains one of these; the returned text ends just before it. None may be empty.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Passed to <see cref="ITokenizer.Encode"/> for a text prompt: add BOS/EOS where the vocabulary asks for them.</summary>
    public bool AddSpecial { get; init; } = true;

    /// <summary>Passed to <see cref="ITokenizer.Encode"/> for a text prompt: special-token text becomes its id.</summary>
    public bool ParseSpecial { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (MaxTokens < 1)
            throw new ArgumentException($"MaxTokens must be at least 1 (got {MaxTokens}).", nameof(MaxTokens));
        ArgumentNullException.ThrowIfNull(Sampling, nameof(Sampling));
        Sampling.Validate();
        ArgumentNullException.ThrowIfNull(StopStrings, nameof(StopStrings));
        for (int i = 0; i < StopStrings.Count; i++)
            if (string.IsNullOrEmpty(StopStrings[i]))
                throw new ArgumentException($"Stop string {i} is null or empty.", nameof(StopStrings));
    }
}
