using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Ferrum.Inference;

/// <summary>
/// The generation loop over one <see cref="IInferenceSession"/>: evaluates the prompt in one batch, then samples a token,
/// streams its text and feeds it back, one token at a time, until an end-of-generation token, a stop string,
/// <see cref="GenerationOptions.MaxTokens"/> or a full context. The session's KV cache is kept between generations and a
/// new prompt that extends the cached tokens evaluates only its new tokens. One generation at a time: a second one
/// started while another is being enumerated throws <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class TextGenerator
{
    private readonly ITokenizer _tokenizer;
    private readonly IInferenceSession _session;
    private readonly List<int> _cached = [];
    private readonly float[] _logits;
    private readonly int[] _single = new int[1];
    private readonly int _sampleVocab;
    private int _busy;

    /// <summary>Generates with <paramref name="tokenizer"/> over <paramref name="session"/>; the session is used, not owned.</summary>
    public TextGenerator(ITokenizer tokenizer, IInferenceSession session)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _session = session ?? throw new ArgumentNullException(nameof(session));
        if (session.VocabSize <= 0)
            throw new ArgumentException($"The session's vocabulary size is {session.VocabSize}.", nameof(session));
        if (tokenizer.VocabSize > session.VocabSize)
            throw new ArgumentException(
                $"The tokenizer has {tokenizer.VocabSize} tokens but the model's logits have only {session.VocabSize} entries.", nameof(tokenizer));
        _logits = new float[session.VocabSize];
        // Logits past the tokenizer's vocabulary (padding rows of the output matrix) are never sampled: they have no text.
        _sampleVocab = tokenizer.VocabSize;
    }

    /// <summary>The tokenizer in use.</summary>
    public ITokenizer Tokenizer => _tokenizer;

    /// <summary>The session in use.</summary>
    public IInferenceSession Session => _session;

    /// <summary>When true (default), a prompt that extends the session's cached tokens evaluates only the new ones.</summary>
    public bool ReuseCachedPrefix { get; set; } = true;

    /// <summary>The tokens whose KV entries are in the session (prompt and fed-back tokens of the last generation).</summary>
    public IReadOnlyList<int> CachedTokens => _cached;

    /// <summary>
    /// Statistics of the last generation: set when its last token is yielded, and again when its enumeration ends
    /// (completed, cancelled or abandoned).
    /// </summary>
    public GenerationStats? LastStats { get; private set; }

    /// <summary>Forgets the cached tokens and resets the session.</summary>
    public void ResetCache()
    {
        if (Volatile.Read(ref _busy) != 0)
            throw new InvalidOperationException("Cannot reset the cache while a generation is running.");
        _session.Reset();
        _cached.Clear();
    }

    /// <summary>Tokenizes <paramref name="prompt"/> (with the options' AddSpecial/ParseSpecial) and generates from it.</summary>
    public IAsyncEnumerable<GeneratedToken> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        options.Validate();
        return GenerateAsync(_tokenizer.Encode(prompt, options.AddSpecial, options.ParseSpecial), options, cancellationToken);
    }

    /// <summary>
    /// Generates from the prompt token ids. Cancellation is checked between tokens and passed to the session, and
    /// surfaces as <see cref="OperationCanceledException"/>; the session stays usable.
    /// </summary>
    public IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> promptTokens, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        options ??= new GenerationOptions();
        options.Validate();
        if (promptTokens.Count == 0)
            throw new ArgumentException("The prompt has no tokens; the model needs at least one to predict the next.", nameof(promptTokens));
        if (promptTokens.Count > _session.ContextLength)
            throw new ArgumentException(
                $"The prompt has {promptTokens.Count} tokens; the session's context holds {_session.ContextLength}.", nameof(promptTokens));
        var prompt = new int[promptTokens.Count];
        for (int i = 0; i < prompt.Length; i++)
        {
            int t = promptTokens[i];
            if ((uint)t >= (uint)_tokenizer.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(promptTokens), t,
                    $"Prompt token {i} is id {t}, outside the vocabulary [0, {_tokenizer.VocabSize}).");
            prompt[i] = t;
        }

        return RunAsync(prompt, options, cancellationToken);
    }

    private async IAsyncEnumerable<GeneratedToken> RunAsync(int[] prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("This TextGenerator is already generating; its session holds one sequence, so generations cannot overlap.");

        long promptTicks = 0, decodeTicks = 0, sampleTicks = 0;
        int cachedPrompt = 0, generated = 0, decoded = 0;
        FinishReason? finish = null;
        try
        {
            ct.ThrowIfCancellationRequested();
            cachedPrompt = ReusablePrefixLength(prompt);
            if (cachedPrompt == 0 && (_session.Position != 0 || _cached.Count != 0))
            {
                _session.Reset();
                _cached.Clear();
            }

            var toEvaluate = prompt.AsMemory(cachedPrompt);
            long start = Stopwatch.GetTimestamp();
            await Task.Run(() => _session.Evaluate(toEvaluate.Span, _logits, ct), ct).ConfigureAwait(false);
            promptTicks = Stopwatch.GetTimestamp() - start;
            _cached.AddRange(toEvaluate.Span);

            var sampler = new Sampler(_sampleVocab, options.Sampling);
            var stream = new StopStringStream(options.StopStrings);
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                start = Stopwatch.GetTimestamp();
                int token = sampler.Sample(_logits.AsSpan(0, _sampleVocab));
                sampleTicks += Stopwatch.GetTimestamp() - start;
                generated++;

                string text;
                if (_tokenizer.IsEndOfGeneration(token))
                {
                    text = stream.Flush();
                    finish = stream.Stopped ? FinishReason.StopString : FinishReason.EndOfGeneration;
                }
                else
                {
                    text = stream.Append(_tokenizer.TokenBytes(token));
                    if (stream.Stopped)
                        finish = FinishReason.StopString;
                    else if (generated >= options.MaxTokens)
                        finish = FinishReason.MaxTokens;
                    else if (_session.Position >= _session.ContextLength)
                        finish = FinishReason.ContextFull;
                    if (finish is FinishReason.MaxTokens or FinishReason.ContextFull)
                    {
                        text += stream.Flush();
                        if (stream.Stopped)
                            finish = FinishReason.StopString;
                    }
                }

                if (finish is not null)
                {
                    // Complete already while the consumer handles the last token (the chat client reads it for usage).
                    LastStats = Stats();
                    yield return new GeneratedToken(token, text, finish);
                    yield break;
                }

                yield return new GeneratedToken(token, text, null);

                // Feed the token back; the consumer has had it, so cancellation here is between tokens.
                ct.ThrowIfCancellationRequested();
                _single[0] = token;
                start = Stopwatch.GetTimestamp();
                await Task.Run(() => _session.Evaluate(_single, _logits, ct), ct).ConfigureAwait(false);
                decodeTicks += Stopwatch.GetTimestamp() - start;
                decoded++;
                _cached.Add(token);
            }
        }
        finally
        {
            LastStats = Stats();
            Volatile.Write(ref _busy, 0);
        }

        GenerationStats Stats() => new()
        {
            PromptTokens = prompt.Length,
            CachedPromptTokens = cachedPrompt,
            GeneratedTokens = generated,
            DecodedTokens = decoded,
            PromptTime = Stopwatch.GetElapsedTime(0, promptTicks),
            DecodeTime = Stopwatch.GetElapsedTime(0, decodeTicks),
            SampleTime = Stopwatch.GetElapsedTime(0, sampleTicks),
            FinishReason = finish,
        };
    }

    // The cached tokens can be kept only when they are a strict prefix of the prompt (the session can only append or reset,
    // and at least one new token must be evaluated to get logits) and the session is where this generator left it.
    private int ReusablePrefixLength(int[] prompt)
    {
        if (!ReuseCachedPrefix || _cached.Count == 0 || _session.Position != _cached.Count || prompt.Length <= _cached.Count)
            return 0;
        for (int i = 0; i < _cached.Count; i++)
            if (_cached[i] != prompt[i])
                return 0;
        return _cached.Count;
    }
}
