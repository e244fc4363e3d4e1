namespace Ferrum.Inference;

/// <summary>
/// One sequence evaluated by a causal language model: the KV cache and the position in it. Implemented by the
/// whole-model forward (<c>Ferrum.Models.MoeModel.CreateSession</c>); the generation loop depends only on this.
/// </summary>
public interface IInferenceSession : IDisposable
{
    /// <summary>Length of a logits vector (the model's vocabulary size).</summary>
    int VocabSize { get; }

    /// <summary>Most tokens the session's cache holds.</summary>
    int ContextLength { get; }

    /// <summary>Tokens evaluated so far (the next token's position).</summary>
    int Position { get; }

    /// <summary>Forgets every evaluated token; the cache is reused.</summary>
    void Reset();

    /// <summary>
    /// Appends <paramref name="tokens"/> at <see cref="Position"/> (one batch: prefill when several, decode when one) and
    /// writes the logits of the last of them into <paramref name="logits"/> (length <see cref="VocabSize"/>).
    /// Throws when the tokens do not fit the context; stops between layers when <paramref name="cancellationToken"/> fires,
    /// leaving <see cref="Position"/> unchanged.
    /// </summary>
    void Evaluate(ReadOnlySpan<int> tokens, Span<float> logits, CancellationToken cancellationToken = default);
}
