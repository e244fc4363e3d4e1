namespace Ferrum.Inference;

/// <summary>
/// One sampled token of a generation.
/// </summary>
/// <param name="TokenId">The sampled token id.</param>
/// <param name="Text">
/// The text this step releases: complete UTF-8 characters that can no longer turn into a stop string. It may be empty
/// (bytes held back) or hold text of earlier tokens; concatenated over a generation it is the whole generated text.
/// </param>
/// <param name="FinishReason">Set on the last token only.</param>
public readonly record struct GeneratedToken(int TokenId, string Text, FinishReason? FinishReason);
