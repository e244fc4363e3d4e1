using System.Runtime.InteropServices;

namespace Ferrum.Inference;

/// <summary>
/// Picks the next token from a logits vector with llama.cpp's sampler semantics (src/llama-sampler.cpp, chain order of
/// common/sampling.cpp): top-k on logits, top-p on the softmax of what is left (at least one token kept), min-p relative
/// to the largest probability, temperature, then a seeded draw. Greedy (temperature ≤ 0) is argmax with ties to the
/// lowest token id. Buffers are sized once for the vocabulary; sampling a token allocates nothing. Not thread-safe.
/// </summary>
public sealed class Sampler
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Candidate
    {
        public float Logit;
        public int Id;
    }

    private readonly Candidate[] _candidates;
    private readonly float[] _probs;
    private SamplerRandom _random;
    private int _count;
    private bool _sorted;

    /// <summary>Creates a sampler for logits vectors of <paramref name="vocabSize"/> entries.</summary>
    public Sampler(int vocabSize, SamplingOptions? options = null)
    {
        if (vocabSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, "The vocabulary size must be positive.");
        Options = options ?? SamplingOptions.Default;
        Options.Validate();
        VocabSize = vocabSize;
        _candidates = new Candidate[vocabSize];
        _probs = new float[vocabSize];
        Seed = Options.Seed is long s ? unchecked((ulong)s) : (ulong)Random.Shared.NextInt64() ^ ((ulong)Random.Shared.NextInt64() << 1);
        _random = new SamplerRandom(Seed);
    }

    /// <summary>The settings this sampler applies.</summary>
    public SamplingOptions Options { get; }

    /// <summary>Length of the logits vectors it accepts.</summary>
    public int VocabSize { get; }

    /// <summary>The seed in use (the options' seed, or the random one picked when it was null).</summary>
    public ulong Seed { get; }

    /// <summary>Restarts the random stream from <see cref="Seed"/>.</summary>
    public void Reset() => _random = new SamplerRandom(Seed);

    /// <summary>Samples one token id from <paramref name="logits"/> (length <see cref="VocabSize"/>).</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        Load(logits);
        if (Options.IsGreedy)
            return Argmax();
        Filter();
        return Draw();
    }

    /// <summary>
    /// The tokens the chain keeps for <paramref name="logits"/> and their probabilities at the draw (after temperature),
    /// written to <paramref name="ids"/> and <paramref name="probabilities"/> (each at least <see cref="VocabSize"/> long
    /// or as long as needed); returns how many. Greedy keeps one token with probability 1. Does not advance the random stream.
    /// </summary>
    public int GetCandidates(ReadOnlySpan<float> logits, Span<int> ids, Span<float> probabilities)
    {
        Load(logits);
        if (Options.IsGreedy)
        {
            ids[0] = Argmax();
            probabilities[0] = 1f;
            return 1;
        }

        Filter();
        ApplyTemperatureAndSoftmax(out double sum);
        if (ids.Length < _count || probabilities.Length < _count)
            throw new ArgumentException($"The output spans hold {Math.Min(ids.Length, probabilities.Length)} entries; {_count} tokens were kept.");
        for (int i = 0; i < _count; i++)
        {
            ids[i] = _candidates[i].Id;
            probabilities[i] = (float)(_probs[i] / sum);
        }

        return _count;
    }

    private void Load(ReadOnlySpan<float> logits)
    {
        if (logits.Length != VocabSize)
            throw new ArgumentException($"The logits vector has {logits.Length} entries; the sampler was made for a vocabulary of {VocabSize}.", nameof(logits));
        bool any = false;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (float.IsNaN(l) || float.IsPositiveInfinity(l))
                throw new ArgumentException($"The logit of token {i} is {l}; logits must be finite (or -infinity to mask a token).", nameof(logits));
            any |= l != float.NegativeInfinity;
            _candidates[i] = new Candidate { Logit = l, Id = i };
        }

        if (!any)
            throw new ArgumentException("Every logit is -infinity: no token can be sampled.", nameof(logits));
        _count = logits.Length;
        _sorted = false;
    }

    // llama.cpp's greedy keeps the first strictly larger logit, so ties go to the lowest id.
    private int Argmax()
    {
        int best = 0;
        for (int i = 1; i < _count; i++)
            if (_candidates[i].Logit > _candidates[best].Logit)
                best = i;
        return _candidates[best].Id;
    }

    private void Filter()
    {
        // -infinity logits (masked tokens) have probability 0 in every later step; drop them first so they cannot be
        // kept by top-k or be the fallback of the draw.
        int n = 0;
        for (int i = 0; i < _count; i++)
            if (_candidates[i].Logit != float.NegativeInfinity)
                _candidates[n++] = _candidates[i];
        _count = n;

        ApplyTopK(Options.TopK);
        ApplyTopP(Options.TopP);
        ApplyMinP(Options.MinP);
    }

    // Orders by descending logit, ties by ascending id (llama.cpp's sort leaves tie order unspecified; this is deterministic).
    private static int Compare(Candidate a, Candidate b)
    {
        int c = b.Logit.CompareTo(a.Logit);
        return c != 0 ? c : a.Id.CompareTo(b.Id);
    }

    private void SortAll()
    {
        if (!_sorted)
        {
            _candidates.AsSpan(0, _count).Sort(static (a, b) => Compare(a, b));
            _sorted = true;
        }
    }

    private void ApplyTopK(int k)
    {
        if (k <= 0 || _count == 0)
            return;
        if (k >= _count)
        {
            SortAll();
            return;
        }

        PartialSort(k);
        _count = k;
        _sorted = true;
    }

    // Moves the k best candidates to the front, sorted, and keeps the others behind them: a min-heap of the k best
    // (worst at the root) over one pass, O(n log k), instead of sorting the whole vocabulary.
    private void PartialSort(int k)
    {
        var c = _candidates.AsSpan(0, _count);
        for (int i = k / 2 - 1; i >= 0; i--)
            SiftDown(c, i, k);
        for (int i = k; i < c.Length; i++)
        {
            if (Compare(c[i], c[0]) < 0)
            {
                (c[0], c[i]) = (c[i], c[0]);
                SiftDown(c, 0, k);
            }
        }

        c[..k].Sort(static (a, b) => Compare(a, b));
    }

    // Min-heap by "goodness": the root is the candidate that sorts last.
    private static void SiftDown(Span<Candidate> heap, int i, int size)
    {
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, worst = i;
            if (l < size && Compare(heap[l], heap[worst]) > 0) worst = l;
            if (r < size && Compare(heap[r], heap[worst]) > 0) worst = r;
            if (worst == i) return;
            (heap[i], heap[worst]) = (heap[worst], heap[i]);
            i = worst;
        }
    }

    private void ApplyTopP(float p)
    {
        if (p >= 1f || _count == 0)
            return;

        // Like llama.cpp, a large unsorted set first gets only its best 256 sorted; the whole set is sorted only when
        // the nucleus is larger than that.
        int sortedPrefix = _count;
        if (!_sorted && _count > PartialSortThreshold)
        {
            PartialSort(PartialSortSize);
            sortedPrefix = PartialSortSize;
        }
        else
        {
            SortAll();
        }

        // Softmax at temperature 1 over what is left (temperature comes later in the chain), cumulated in float as llama.cpp does.
        float max = _candidates[0].Logit;
        double sum = 0;
        for (int i = 0; i < _count; i++)
        {
            float e = MathF.Exp(_candidates[i].Logit - max);
            _probs[i] = e;
            sum += e;
        }

        int last = NucleusLength(p, sum, sortedPrefix);
        if (last < 0)
        {
            SortAll();
            for (int i = 0; i < _count; i++)
                _probs[i] = MathF.Exp(_candidates[i].Logit - max);
            last = NucleusLength(p, sum, _count);
        }

        _count = last < 0 ? _count : last;
        _sorted = true;
    }

    private const int PartialSortThreshold = 1024;
    private const int PartialSortSize = 256;

    // Length of the smallest sorted prefix whose probability reaches p, or -1 when the first n do not reach it.
    private int NucleusLength(float p, double sum, int n)
    {
        float cum = 0f;
        for (int i = 0; i < n; i++)
        {
            cum += (float)(_probs[i] / sum);
            // min_keep = 1: the first token is always reached before the loop can break.
            if (cum >= p)
                return i + 1;
        }

        return -1;
    }

    private void ApplyMinP(float p)
    {
        if (p <= 0f || _count == 0)
            return;
        // p_i >= p * p_max  ⇔  logit_i >= logit_max + ln p; the max itself always passes, so at least one token stays.
        float max = float.NegativeInfinity;
        for (int i = 0; i < _count; i++)
            max = MathF.Max(max, _candidates[i].Logit);
        float minLogit = max + MathF.Log(p);
        int n = 0;
        for (int i = 0; i < _count; i++)
            if (_candidates[i].Logit >= minLogit)
                _candidates[n++] = _candidates[i];
        _count = n;
    }

    // Divides by the temperature and leaves unnormalized exp(logit - max) in _probs; returns the sum.
    private void ApplyTemperatureAndSoftmax(out double sum)
    {
        float t = Options.Temperature;
        float max = float.NegativeInfinity;
        for (int i = 0; i < _count; i++)
        {
            _candidates[i].Logit /= t;
            max = MathF.Max(max, _candidates[i].Logit);
        }

        sum = 0;
        for (int i = 0; i < _count; i++)
        {
            float e = MathF.Exp(_candidates[i].Logit - max);
            _probs[i] = e;
            sum += e;
        }
    }

    // llama.cpp's dist: u ~ U[0,1), first candidate whose running sum reaches u * total.
    private int Draw()
    {
        ApplyTemperatureAndSoftmax(out double sum);
        double target = sum * _random.NextDouble();
        double run = 0;
        for (int i = 0; i < _count; i++)
        {
            run += _probs[i];
            if (run >= target)
                return _candidates[i].Id;
        }

        return _candidates[_count - 1].Id;
    }
}
