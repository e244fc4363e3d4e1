using System.Runtime.InteropServices;
using Ferrum.Backends.Cpu;
using Ferrum.Inference;
using Ferrum.Quantization;

namespace Ferrum.Models;

/// <summary>
/// One sequence over a <see cref="MoeModel"/>: the KV cache (f16 by default, as llama.cpp) and every scratch buffer,
/// allocated once here so evaluating tokens allocates nothing. Prompts longer than the model's MaxBatch run in
/// several batched passes.
/// </summary>
public sealed unsafe class MoeSession : IInferenceSession
{
    private readonly MoeModel _m;
    private readonly MoeModelConfig _c;
    private readonly RopeTable _rope;
    private readonly int _batch, _threads;
    private readonly bool _f16;
    private readonly long _kvLayerElems;
    private readonly void* _arena;
    private readonly byte* _kCache, _vCache;
    private readonly float* _x, _xn, _q, _k, _v, _att, _tmp, _scores, _qh;
    private readonly byte* _act;
    private readonly Action<int> _matJob, _attnJob;
    private bool _disposed;

    // Per-call state read by the pool jobs.
    private DenseMatrix? _jm;
    private byte* _jAct;
    private long _jActStride;
    private float* _jY;
    private int _jTokens, _jPos0, _jLayer;

    internal MoeSession(MoeModel model, int contextLength)
    {
        _m = model;
        _c = model.Config;
        ContextLength = contextLength;
        _batch = Math.Min(model.Options.MaxBatch, contextLength);
        _threads = model.Pool.Count;
        _f16 = model.Options.KvCacheType == GgmlType.F16;
        _rope = new RopeTable(_c, contextLength, model.RopeFreqFactors);
        _kvLayerElems = (long)contextLength * _c.KvWidth;
        KvCacheBytes = model.KvCacheBytes(contextLength);

        long actRow = 0;
        foreach (var l in model.Layers)
        {
            foreach (var m in new[] { l.Wq, l.Wk, l.Wv, l.Wo })
            {
                actRow = Math.Max(actRow, ActivationQuant.RowBytes(m.ActivationType, m.Columns));
            }
        }

        actRow = Math.Max(actRow, ActivationQuant.RowBytes(model.Output.ActivationType, model.Output.Columns));
        int h = _c.Hidden, qw = _c.QueryWidth, kw = _c.KvWidth;
        long floats = ((long)_batch * ((3L * h) + (2L * qw) + (2L * kw) + Math.Max(h, qw)))
            + ((long)_threads * (contextLength + _c.HeadDim));
        long bytes = (floats * 4) + (actRow * _batch) + KvCacheBytes + 256;
        _arena = NativeMemory.AlignedAlloc((nuint)bytes, 64);
        NativeMemory.Clear(_arena, (nuint)bytes);
        float* f = (float*)_arena;
        _x = f; f += (long)_batch * h;
        _xn = f; f += (long)_batch * h;
        _tmp = f; f += (long)_batch * Math.Max(h, qw);
        _q = f; f += (long)_batch * qw;
        _att = f; f += (long)_batch * qw;
        _k = f; f += (long)_batch * kw;
        _v = f; f += (long)_batch * kw;
        _scores = f; f += (long)_threads * contextLength;
        _qh = f; f += (long)_threads * _c.HeadDim;
        f += (long)_batch * h; // slack: the logits row of the last token's norm lives in _xn.
        _act = (byte*)f;
        _kCache = _act + (actRow * _batch);
        _vCache = _kCache + (KvCacheBytes / 2);
        _matJob = MatJob;
        _attnJob = AttnJob;
    }

    /// <inheritdoc />
    public int VocabSize => _c.VocabSize;

    /// <inheritdoc />
    public int ContextLength { get; }

    /// <inheritdoc />
    public int Position { get; private set; }

    /// <summary>Bytes of the KV cache (keys and values of every layer and position).</summary>
    public long KvCacheBytes { get; }

    /// <inheritdoc />
    public void Reset()
    {
        ThrowIfDisposed();
        Position = 0;
    }

    /// <inheritdoc />
    /// <remarks>Sessions of one model take turns: a concurrent Evaluate on another session waits for the running one.</remarks>
    public void Evaluate(ReadOnlySpan<int> tokens, Span<float> logits, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        lock (_m.EvaluationTurn)
        {
            EvaluateInTurn(tokens, logits, cancellationToken);
        }
    }

    private void EvaluateInTurn(ReadOnlySpan<int> tokens, Span<float> logits, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (tokens.IsEmpty)
        {
            throw new ArgumentException("at least one token must be evaluated", nameof(tokens));
        }

        if (logits.Length < VocabSize)
        {
            throw new ArgumentException($"the logits span holds {logits.Length} floats; the vocabulary has {VocabSize}", nameof(logits));
        }

        if ((long)Position + tokens.Length > ContextLength)
        {
            throw new InvalidOperationException($"{tokens.Length} tokens at position {Position} exceed the context length {ContextLength}");
        }

        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"token id {tokens[i]} at index {i} is outside the vocabulary [0, {VocabSize})");
            }
        }

        int done = 0;
        while (done < tokens.Length)
        {
            int n = Math.Min(_batch, tokens.Length - done);
            RunBatch(tokens.Slice(done, n), Position + done, cancellationToken);
            done += n;
        }

        fixed (float* lp = logits)
        {
            // Only the last token's row goes through the final norm and the head, as llama.cpp's output ids do.
            float* last = _x + ((long)(((tokens.Length - 1) % _batch)) * _c.Hidden);
            RmsNorm(last, _xn, _m.OutputNorm, _c.Hidden);
            MatMul(_m.Output, _xn, 1, lp);
        }

        Position += tokens.Length;
    }

    private void RunBatch(ReadOnlySpan<int> tokens, int pos0, CancellationToken ct)
    {
        int n = tokens.Length, h = _c.Hidden;
        for (int t = 0; t < n; t++)
        {
            var row = new ReadOnlySpan<byte>(_m.Embedding + ((long)tokens[t] * _m.EmbeddingRowBytes), checked((int)_m.EmbeddingRowBytes));
            Dequantizer.Dequantize(_m.EmbeddingType, row, new Span<float>(_x + ((long)t * h), h));
        }

        for (int il = 0; il < _c.Layers; il++)
        {
            ct.ThrowIfCancellationRequested();
            var l = _m.Layers[il];
            for (int t = 0; t < n; t++)
            {
                RmsNorm(_x + ((long)t * h), _xn + ((long)t * h), l.AttnNorm, h);
            }

            Attention(l, il, n, pos0);
            MatMul(l.Wo, _att, n, _tmp);
            AddRows(_tmp, l.Bo, n, h);
            Add(_x, _tmp, (long)n * h);

            for (int t = 0; t < n; t++)
            {
                RmsNorm(_x + ((long)t * h), _xn + ((long)t * h), l.FfnNorm, h);
            }

            l.Moe!.Forward(_xn, _tmp, n);
            Add(_x, _tmp, (long)n * h);
        }
    }

    private void Attention(LayerWeights l, int il, int n, int pos0)
    {
        int qw = _c.QueryWidth, kw = _c.KvWidth, hd = _c.HeadDim;
        if (l.Wq.ActivationType == l.Wk.ActivationType && l.Wk.ActivationType == l.Wv.ActivationType)
        {
            long stride = Quantize(l.Wq, _xn, n);
            RunMat(l.Wq, _act, stride, n, _q);
            RunMat(l.Wk, _act, stride, n, _k);
            RunMat(l.Wv, _act, stride, n, _v);
        }
        else
        {
            MatMul(l.Wq, _xn, n, _q);
            MatMul(l.Wk, _xn, n, _k);
            MatMul(l.Wv, _xn, n, _v);
        }

        AddRows(_q, l.Bq, n, qw);
        AddRows(_k, l.Bk, n, kw);
        AddRows(_v, l.Bv, n, kw);

        for (int t = 0; t < n; t++)
        {
            float* q = _q + ((long)t * qw), k = _k + ((long)t * kw);
            switch (_c.QkNorm)
            {
                case QkNormKind.PerHead:
                    for (int hh = 0; hh < _c.Heads; hh++)
                    {
                        RmsNorm(q + (hh * hd), q + (hh * hd), l.QNorm, hd);
                    }

                    for (int hh = 0; hh < _c.KvHeads; hh++)
                    {
                        RmsNorm(k + (hh * hd), k + (hh * hd), l.KNorm, hd);
                    }

                    break;
                case QkNormKind.WholeProjection:
                    RmsNorm(q, q, l.QNorm, qw);
                    RmsNorm(k, k, l.KNorm, kw);
                    break;
            }

            int pos = pos0 + t;
            for (int hh = 0; hh < _c.Heads; hh++)
            {
                _rope.Apply(q + (hh * hd), pos);
            }

            for (int hh = 0; hh < _c.KvHeads; hh++)
            {
                _rope.Apply(k + (hh * hd), pos);
            }

            // Store this position's keys and values.
            long at = (il * _kvLayerElems) + ((long)pos * kw);
            float* v = _v + ((long)t * kw);
            if (_f16)
            {
                ushort* kc = (ushort*)_kCache + at, vc = (ushort*)_vCache + at;
                for (int i = 0; i < kw; i++)
                {
                    kc[i] = BitConverter.HalfToUInt16Bits((Half)k[i]);
                    vc[i] = BitConverter.HalfToUInt16Bits((Half)v[i]);
                }
            }
            else
            {
                Buffer.MemoryCopy(k, (float*)_kCache + at, kw * 4L, kw * 4L);
                Buffer.MemoryCopy(v, (float*)_vCache + at, kw * 4L, kw * 4L);
            }
        }

        _jTokens = n;
        _jPos0 = pos0;
        _jLayer = il;
        _m.Pool.Run(_attnJob);
    }

    // One (token, head) pair per step, striped over the threads: scores, softmax, weighted sum of values.
    // With an f16 cache the query and the probabilities are rounded to f16 first, as ggml's f16 mul_mat converts src1.
    private void AttnJob(int tid)
    {
        int heads = _c.Heads, hd = _c.HeadDim, kw = _c.KvWidth, group = _c.Heads / _c.KvHeads;
        float scale = _c.AttentionScale;
        float* s = _scores + ((long)tid * ContextLength);
        float* qh = _qh + ((long)tid * hd);
        long layerBase = _jLayer * _kvLayerElems;
        for (int item = tid; item < _jTokens * heads; item += _threads)
        {
            int t = item / heads, head = item % heads, kvh = head / group;
            int len = _jPos0 + t + 1;
            float* q = _q + ((long)t * _c.QueryWidth) + (head * hd);
            float* o = _att + ((long)t * _c.QueryWidth) + (head * hd);
            long off = layerBase + (kvh * hd);
            float max = float.NegativeInfinity;
            if (_f16)
            {
                for (int d = 0; d < hd; d++)
                {
                    qh[d] = (float)(Half)q[d];
                }

                for (int j = 0; j < len; j++)
                {
                    byte* kr = _kCache + ((off + ((long)j * kw)) * 2);
                    float dot = 0;
                    for (int d = 0; d < hd; d++)
                    {
                        dot += qh[d] * Fp16.Load(kr + (2 * d));
                    }

                    s[j] = dot * scale;
                    max = MathF.Max(max, s[j]);
                }
            }
            else
            {
                for (int j = 0; j < len; j++)
                {
                    float* kr = (float*)_kCache + off + ((long)j * kw);
                    float dot = 0;
                    for (int d = 0; d < hd; d++)
                    {
                        dot += q[d] * kr[d];
                    }

                    s[j] = dot * scale;
                    max = MathF.Max(max, s[j]);
                }
            }

            double sum = 0;
            for (int j = 0; j < len; j++)
            {
                s[j] = MathF.Exp(s[j] - max);
                sum += s[j];
            }

            float inv = (float)(1.0 / sum);
            new Span<float>(o, hd).Clear();
            for (int j = 0; j < len; j++)
            {
                float pj = s[j] * inv;
                if (_f16)
                {
                    pj = (float)(Half)pj;
                    byte* vr = _vCache + ((off + ((long)j * kw)) * 2);
                    for (int d = 0; d < hd; d++)
                    {
                        o[d] += pj * Fp16.Load(vr + (2 * d));
                    }
                }
                else
                {
                    float* vr = (float*)_vCache + off + ((long)j * kw);
                    for (int d = 0; d < hd; d++)
                    {
                        o[d] += pj * vr[d];
                    }
                }
            }
        }
    }

    // Quantizes n rows of m.Columns floats to m's activation type into the shared activation buffer.
    private long Quantize(DenseMatrix m, float* x, int n)
    {
        long stride = ActivationQuant.RowBytes(m.ActivationType, m.Columns);
        for (int t = 0; t < n; t++)
        {
            ActivationQuant.Quantize(m.ActivationType, x + ((long)t * m.Columns), _act + (t * stride), m.Columns);
        }

        return stride;
    }

    private void MatMul(DenseMatrix m, float* x, int n, float* y)
    {
        long stride = Quantize(m, x, n);
        RunMat(m, _act, stride, n, y);
    }

    private void RunMat(DenseMatrix m, byte* act, long stride, int n, float* y)
    {
        _jm = m;
        _jAct = act;
        _jActStride = stride;
        _jTokens = n;
        _jY = y;
        if (_threads == 1 || (long)m.Rows * m.Columns * n < 1 << 16)
        {
            m.Kernel.Run(m.Columns, m.Data, m.RowBytes, m.Rows, act, stride, n, y, m.Rows);
            return;
        }

        _m.Pool.Run(_matJob);
    }

    // Rows split evenly over the threads, in multiples of 4 so 4-row kernels keep their blocking.
    private void MatJob(int tid)
    {
        var m = _jm!;
        int per = (((m.Rows + _threads - 1) / _threads) + 3) & ~3;
        int r0 = Math.Min(m.Rows, tid * per), r1 = Math.Min(m.Rows, r0 + per);
        if (r1 > r0)
        {
            m.Kernel.Run(m.Columns, m.Data + (r0 * m.RowBytes), m.RowBytes, r1 - r0, _jAct, _jActStride, _jTokens, _jY + r0, m.Rows);
        }
    }

    // ggml_rms_norm (sum of squares in double, scale = 1/sqrt(mean + eps)) followed by ggml_mul with the weight.
    private void RmsNorm(float* x, float* y, float* w, int n)
    {
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += x[i] * x[i];
        }

        float mean = (float)(sum / n);
        float scale = 1.0f / MathF.Sqrt(mean + _c.RmsEpsilon);
        for (int i = 0; i < n; i++)
        {
            y[i] = x[i] * scale * w[i];
        }
    }

    private static void AddRows(float* y, float* bias, int n, int width)
    {
        if (bias == null)
        {
            return;
        }

        for (int t = 0; t < n; t++)
        {
            Add(y + ((long)t * width), bias, width);
        }
    }

    private static void Add(float* y, float* x, long count)
    {
        for (long i = 0; i < count; i++)
        {
            y[i] += x[i];
        }
    }

    private void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_m.IsDisposed, _m);
    }

    /// <summary>Frees the KV cache and the scratch memory.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NativeMemory.AlignedFree(_arena);
        _m.Forget(this);
    }
}
