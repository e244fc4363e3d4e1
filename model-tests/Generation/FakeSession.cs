using Ferrum.Inference;

namespace Ferrum.Model.Tests.Generation;

/// <summary>
/// A deterministic stand-in for the model: after each Evaluate the logits are 10 for the token chosen by
/// <c>next(history)</c> and 0 elsewhere (or whatever <c>logits(history)</c> writes). Records every batch.
/// </summary>
internal sealed class FakeSession : IInferenceSession
{
    private readonly List<int> _history = [];
    private readonly Func<IReadOnlyList<int>, int>? _next;
    private readonly Action<IReadOnlyList<int>, Span<float>>? _logits;

    public FakeSession(int vocabSize, int contextLength, Func<IReadOnlyList<int>, int> next)
    {
        VocabSize = vocabSize;
        ContextLength = contextLength;
        _next = next;
    }

    public FakeSession(int vocabSize, int contextLength, Action<IReadOnlyList<int>, Span<float>> logits)
    {
        VocabSize = vocabSize;
        ContextLength = contextLength;
        _logits = logits;
    }

    /// <summary>Next token = the successor of the last token in <paramref name="chain"/>; anything else → <paramref name="otherwise"/>.</summary>
    public static FakeSession Chain(int vocabSize, int contextLength, Dictionary<int, int> chain, int otherwise) =>
        new(vocabSize, contextLength, h => chain.TryGetValue(h[^1], out var n) ? n : otherwise);

    public int VocabSize { get; }
    public int ContextLength { get; }
    public int Position => _history.Count;
    public IReadOnlyList<int> History => _history;
    public List<int[]> Batches { get; } = [];
    public int Resets { get; private set; }
    public bool Disposed { get; private set; }

    /// <summary>Called at the start of every Evaluate with the batch index (to cancel, block, or count).</summary>
    public Action<int>? OnEvaluate { get; set; }

    /// <summary>Simulated cost of an Evaluate.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(1);

    public void Reset()
    {
        _history.Clear();
        Resets++;
    }

    public void Evaluate(ReadOnlySpan<int> tokens, Span<float> logits, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        OnEvaluate?.Invoke(Batches.Count);
        cancellationToken.ThrowIfCancellationRequested();
        if (tokens.Length == 0 || _history.Count + tokens.Length > ContextLength)
            throw new ArgumentException($"{tokens.Length} tokens at position {_history.Count} do not fit {ContextLength}.");
        if (logits.Length != VocabSize)
            throw new ArgumentException("logits length");
        Thread.Sleep(Delay);
        Batches.Add(tokens.ToArray());
        _history.AddRange(tokens.ToArray());
        logits.Clear();
        if (_next is not null)
            logits[_next(_history)] = 10f;
        else
            _logits!(_history, logits);
    }

    public void Dispose() => Disposed = true;
}
