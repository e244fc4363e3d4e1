namespace Ferrum.Inference;

/// <summary>Defaults of a <see cref="FerrumChatClient"/>; a request's <c>ChatOptions</c> override them field by field.</summary>
public sealed record FerrumChatClientOptions
{
    /// <summary>Sampling when a request sets none of temperature, top-p, top-k or seed (llama.cpp's defaults).</summary>
    public SamplingOptions Sampling { get; init; } = SamplingOptions.Default;

    /// <summary>Most tokens of a response when the request does not set <c>MaxOutputTokens</c>.</summary>
    public int MaxOutputTokens { get; init; } = 512;

    /// <summary>Stop strings applied to every request, in addition to the request's <c>StopSequences</c>.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>The model id reported in metadata and responses.</summary>
    public string? ModelId { get; init; }
}
