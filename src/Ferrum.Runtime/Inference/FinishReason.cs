namespace Ferrum.Inference;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model sampled an end-of-generation token (EOS, EOT, ...).</summary>
    EndOfGeneration,

    /// <summary>The generated text reached one of the stop strings (which is not part of the returned text).</summary>
    StopString,

    /// <summary>The requested number of tokens was generated.</summary>
    MaxTokens,

    /// <summary>The session's context is full: the last sampled token could not be evaluated.</summary>
    ContextFull,
}
