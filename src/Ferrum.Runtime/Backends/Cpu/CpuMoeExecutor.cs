using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Runs one MoE block on the CPU: router, top-K routing, the routed experts (weighted) and the shared expert.
/// Input and output are [tokens × hidden] float rows; the output is the block's FFN output (no residual, no norm).
/// <para>Each token's activation is quantized once per activation type. Tokens are grouped by expert, so each
/// expert's weights are read once per batch; gate and up are computed in the same task over the same activation
/// rows, followed directly by the activation function; the intermediate is quantized once, then down, then the
/// weighted sum. Work is split over rows and experts across a fixed worker pool; scratch memory is allocated
/// once, at construction, so a forward pass allocates nothing.</para>
/// </summary>
public sealed unsafe class CpuMoeExecutor : IMoeExecutor
{
    private const int RouterChunk = 16;
    private const int GateUpChunk = 64;
    private const int DownChunk = 128;
    private const int SerialRoutingTokens = 16;

    private readonly MoeRouting _r;
    private readonly IDisposable? _lease;
    private readonly CpuMatrix _router, _gate, _up, _down, _shGate, _shUp, _shDown, _shInp;
    private readonly float* _routerBias, _selectionBias, _gateBias, _upBias, _downBias;
    private readonly bool _hasShared;
    private readonly CpuWorkerPool _pool;
    private readonly bool _ownsPool;
    private readonly Action<int> _job;
    private readonly int _maxTokens, _hidden, _ffn, _ffnShared, _ffnMax, _experts, _topK;
    private readonly CpuMatKernel _kRouter, _kGate, _kUp, _kDown;
    private readonly CpuMatKernel? _kShGate, _kShUp, _kShDown, _kShInp;

    // Activation buffers of x, one per distinct activation type.
    private readonly GgmlType[] _xTypes;
    private readonly long[] _xRow;
    private readonly nint[] _xBuf;
    private readonly int _aRouter, _aGate, _aShGate, _aShInp;
    private readonly long _hRowMax;

    private readonly NativeArenaHandle _arena;
    private readonly float* _logits, _routeScratch, _weights, _shScale, _g, _u, _posWeight, _downTmp;
    private readonly int* _ids, _counts, _offsets, _posToken, _tasksA, _remaining, _active;
    private readonly bool _routerNeedsQuantizedX;
    private readonly byte* _hq;

    // Per-call state.
    private float* _x, _out;
    private int _tokens, _nTasksA, _nTasksD, _nActive;
    private int _next0, _nextR, _nextRoute, _nextA, _nextD;
    private Exception? _error;
    private bool _disposed;
    private int _busy;

    /// <summary>
    /// Prepares <paramref name="layer"/> for the CPU: kernels from <paramref name="kernels"/> where given (generated code
    /// binds its shape-specialized kernels this way), otherwise the best kernel of each format for this machine.
    /// Holds a lease on the layer's memory, so disposing the layer or its file first is safe.
    /// </summary>
    public CpuMoeExecutor(MoeLayer layer, CpuMoeOptions? options = null, CpuKernelSet? kernels = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        options ??= new CpuMoeOptions();
        options.Validate();
        if (!CpuBackend.CanRun(layer, out var why))
        {
            throw new NotSupportedException($"{layer.Source} layer {layer.Index}: {why}");
        }

        layer.Validate();
        var routing = layer.Routing;
        _r = routing;
        _maxTokens = options.MaxTokens;
        _hidden = layer.Hidden;
        _ffn = layer.ExpertFfn;
        _ffnShared = layer.SharedFfn;
        _ffnMax = Math.Max(_ffn, _ffnShared);
        _experts = routing.ExpertCount;
        _topK = routing.ExpertsPerToken;
        _hasShared = layer.HasSharedExpert;

        // Pointers are taken once, under the lease: the hot path never goes back through the views.
        _lease = layer.AcquireMemoryLease();
        try
        {
            _router = new CpuMatrix(layer.Router);
            _gate = new CpuMatrix(layer.Gate);
            _up = new CpuMatrix(layer.Up);
            _down = new CpuMatrix(layer.Down);
            if (_hasShared)
            {
                _shGate = new CpuMatrix(layer.SharedGate!);
                _shUp = new CpuMatrix(layer.SharedUp!);
                _shDown = new CpuMatrix(layer.SharedDown!);
            }

            if (layer.SharedGateInput != null)
            {
                _shInp = new CpuMatrix(layer.SharedGateInput);
            }

            _routerBias = CpuMatrix.Floats(layer.RouterBias);
            _selectionBias = CpuMatrix.Floats(layer.SelectionBias);
            _gateBias = CpuMatrix.Floats(layer.GateBias);
            _upBias = CpuMatrix.Floats(layer.UpBias);
            _downBias = CpuMatrix.Floats(layer.DownBias);
        }
        catch
        {
            _lease?.Dispose();
            throw;
        }

        // Failed construction releases what it took: the lease (it has no finalizer and would pin the mapping) and,
        // through its SafeHandle, the arena; a pool that failed to start has stopped its own workers.
        try
        {
            kernels ??= CpuKernelSet.Default;
            _kRouter = kernels.Pick(kernels.Router, _router.Type, _hidden, options.KernelPins);
            _kGate = kernels.Pick(kernels.Gate, _gate.Type, _hidden, options.KernelPins);
            _kUp = kernels.Pick(kernels.Up, _up.Type, _hidden, options.KernelPins);
            _kDown = kernels.Pick(kernels.Down, _down.Type, _ffn, options.KernelPins);
            if (_hasShared)
            {
                _kShGate = kernels.Pick(null, _shGate.Type, _hidden, options.KernelPins);
                _kShUp = kernels.Pick(null, _shUp.Type, _hidden, options.KernelPins);
                _kShDown = kernels.Pick(null, _shDown.Type, _ffnShared, options.KernelPins);
            }

            if (layer.SharedGateInput != null)
            {
                _kShInp = kernels.Pick(null, _shInp.Type, _hidden, options.KernelPins);
            }

            var types = new List<GgmlType>();
            int Slot(GgmlType t)
            {
                int i = types.IndexOf(t);
                if (i < 0)
                {
                    types.Add(t);
                    i = types.Count - 1;
                }

                return i;
            }

            _aRouter = Slot(_kRouter.ActivationType);
            _aGate = Slot(_kGate.ActivationType);
            _aShGate = _kShGate != null ? Slot(_kShGate.ActivationType) : -1;
            _aShInp = _kShInp != null ? Slot(_kShInp.ActivationType) : -1;
            _xTypes = types.ToArray();
            _routerNeedsQuantizedX = _kRouter.ActivationType != GgmlType.F32;
            _xRow = _xTypes.Select(t => Align(ActivationQuant.RowBytes(t, _hidden))).ToArray();
            _hRowMax = Align(Math.Max(ActivationQuant.RowBytes(_kDown.ActivationType, _ffn),
                _kShDown != null ? ActivationQuant.RowBytes(_kShDown.ActivationType, _ffnShared) : 0));

            int threads = options.Workers?.Count ?? Math.Max(1, options.Threads);
            long tk = (long)_maxTokens * _topK;
            long positions = tk + (_hasShared ? _maxTokens : 0);
            int maxTasksA = (_experts + 1) * ((_ffnMax + GateUpChunk - 1) / GateUpChunk);

            // One arena for every scratch buffer, each 64-byte aligned.
            var layout = new List<long>();
            long Reserve(long bytes)
            {
                long at = layout.Count == 0 ? 0 : layout[^1];
                layout.Add(at + Align(bytes));
                return at;
            }

            var xOff = _xTypes.Select((_, i) => Reserve(_xRow[i] * _maxTokens)).ToArray();
            long oLogits = Reserve(4L * _maxTokens * _experts);
            long oRouteScratch = Reserve(4L * threads * 2 * _experts);
            long oWeights = Reserve(4L * tk);
            long oShScale = Reserve(4L * _maxTokens);
            long oG = Reserve(4L * positions * _ffnMax);
            long oU = Reserve(4L * positions * _ffnMax);
            long oPosWeight = Reserve(4L * positions);
            long oDownTmp = Reserve(4L * threads * _maxTokens * DownChunk);
            long oIds = Reserve(4L * tk);
            long oCounts = Reserve(4L * (_experts + 1));
            long oOffsets = Reserve(4L * (_experts + 2));
            long oPosToken = Reserve(4L * positions);
            long oTasksA = Reserve(8L * maxTasksA);
            long oRemaining = Reserve(4L * (_experts + 1));
            long oActive = Reserve(4L * (_experts + 1));
            long oHq = Reserve(_hRowMax * positions);
            long total = layout[^1];
            _arena = new NativeArenaHandle(total);
            _ownsPool = options.Workers == null;
            _pool = options.Workers ?? new CpuWorkerPool(threads);

            byte* a = _arena.Pointer;
            _xBuf = xOff.Select(o => (nint)(a + o)).ToArray();
            _logits = (float*)(a + oLogits);
            _routeScratch = (float*)(a + oRouteScratch);
            _weights = (float*)(a + oWeights);
            _shScale = (float*)(a + oShScale);
            _g = (float*)(a + oG);
            _u = (float*)(a + oU);
            _posWeight = (float*)(a + oPosWeight);
            _downTmp = (float*)(a + oDownTmp);
            _ids = (int*)(a + oIds);
            _counts = (int*)(a + oCounts);
            _offsets = (int*)(a + oOffsets);
            _posToken = (int*)(a + oPosToken);
            _tasksA = (int*)(a + oTasksA);
            _remaining = (int*)(a + oRemaining);
            _active = (int*)(a + oActive);
            _hq = a + oHq;
            ScratchBytes = total;
            _job = Job;
        }
        catch
        {
            _arena?.Dispose();
            _lease?.Dispose();
            throw;
        }
    }

    /// <summary>Threads that run the layer.</summary>
    public int Threads => NotDisposed()._pool.Count;

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed);

    /// <inheritdoc/>
    public string Backend => "cpu";

    /// <inheritdoc/>
    public int Hidden => NotDisposed()._hidden;

    /// <summary>Bytes of scratch memory allocated at construction.</summary>
    public long ScratchBytes { get; }

    /// <summary>The routing in use.</summary>
    public MoeRouting Routing => NotDisposed()._r;

    /// <summary>Which kernel ran for each matrix, e.g. "gate: q4_K·q8_K avx512 generic".</summary>
    public IReadOnlyList<string> KernelPaths
    {
        get
        {
            NotDisposed();
            var list = new List<string> { $"router: {_kRouter.Path}", $"gate: {_kGate.Path}", $"up: {_kUp.Path}", $"down: {_kDown.Path}" };
            if (_kShGate != null)
            {
                list.Add($"shared gate: {_kShGate.Path}");
                list.Add($"shared up: {_kShUp!.Path}");
                list.Add($"shared down: {_kShDown!.Path}");
            }

            return list;
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Thread safety: one call at a time per executor. A call made while another runs is refused with
    /// <see cref="InvalidOperationException"/> before it touches any state, so the running call's output stays right.
    /// A token whose input row holds a NaN or ±∞ gets an all-NaN output row (ggml propagates NaN); the other tokens
    /// of the batch are unaffected.
    /// </remarks>
    /// <exception cref="ObjectDisposedException">the executor is disposed.</exception>
    /// <exception cref="ArgumentException">the input is not a whole number of rows, or the output is shorter than the input.</exception>
    public void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        if (x.Length % _hidden != 0)
        {
            throw new ArgumentException($"input length {x.Length} is not a multiple of the hidden size {_hidden}", nameof(x));
        }

        if (y.Length < x.Length)
        {
            throw new ArgumentException($"output length {y.Length} is smaller than the input length {x.Length}", nameof(y));
        }

        fixed (float* px = x, py = y)
        {
            Forward(px, py, x.Length / _hidden);
        }
    }

    /// <summary>Runs the block for <paramref name="tokens"/> rows of <c>hidden</c> floats at <paramref name="x"/>.</summary>
    /// <remarks>
    /// One call at a time: a call made while another runs on this executor is refused with
    /// <see cref="InvalidOperationException"/> before it touches any state (create one executor per concurrent caller).
    /// </remarks>
    public void Forward(float* x, float* y, int tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens));
        }

        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
            throw new InvalidOperationException("this MoE executor is already running a Forward call on another thread; use one executor per concurrent caller");
        }

        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ForwardChunks(x, y, tokens);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void ForwardChunks(float* x, float* y, int tokens)
    {
        for (int t0 = 0; t0 < tokens; t0 += _maxTokens)
        {
            _x = x + (long)t0 * _hidden;
            _out = y + (long)t0 * _hidden;
            _tokens = Math.Min(_maxTokens, tokens - t0);
            _next0 = _nextR = _nextRoute = 0;
            _error = null;
            _pool.Run(_job);
            if (_error != null)
            {
                throw _error is InvalidOperationException ? new InvalidOperationException(_error.Message, _error) : new InvalidOperationException($"MoE forward failed: {_error.Message}", _error);
            }
        }
    }

    // Phases, separated by barriers: (0) quantize x + router logits, (1) route + group by expert, (2) gate and up
    // per (expert, row chunk) with the activation applied at once and the intermediate quantized by whichever
    // thread finishes an expert's last chunk, (3) down per output-row chunk over all experts, accumulated with
    // the routing weights straight into the output (no separate combine pass, no races: a chunk owns its rows).
    private void Job(int tid)
    {
        Step(tid, 0);
        _pool.Barrier();
        if (_routerNeedsQuantizedX)
        {
            Step(tid, 1);
            _pool.Barrier();
        }

        if (_tokens > SerialRoutingTokens)
        {
            Step(tid, 2);
            _pool.Barrier();
        }

        if (tid == 0)
        {
            Step(tid, 3);
        }

        _pool.Barrier();
        Step(tid, 4);
        _pool.Barrier();
        Step(tid, 5);
    }

    private void Step(int tid, int phase)
    {
        if (_error != null)
        {
            return;
        }

        try
        {
            switch (phase)
            {
                case 0:
                    QuantizeInputs();
                    if (!_routerNeedsQuantizedX)
                    {
                        RouterLogits();
                    }

                    break;
                case 1: RouterLogits(); break;
                case 2: RouteTokens(tid); break;
                case 3:
                    if (_tokens <= SerialRoutingTokens)
                    {
                        RouteTokens(tid);
                    }

                    Group();
                    break;
                case 4: GateUp(); break;
                case 5: DownAccumulate(tid); break;
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
        }
    }

    private void QuantizeInputs()
    {
        int t;
        while ((t = Interlocked.Increment(ref _next0) - 1) < _tokens)
        {
            float* xt = _x + (long)t * _hidden;
            for (int i = 0; i < _xTypes.Length; i++)
            {
                if (_xTypes[i] != GgmlType.F32)
                {
                    ActivationQuant.Quantize(_xTypes[i], xt, (byte*)_xBuf[i] + t * _xRow[i], _hidden);
                }
            }
        }
    }

    // F32 activations are the input rows themselves.
    private byte* XAct(int slot) => _xTypes[slot] == GgmlType.F32 ? (byte*)_x : (byte*)_xBuf[slot];

    private long XRow(int slot) => _xTypes[slot] == GgmlType.F32 ? 4L * _hidden : _xRow[slot];

    private void RouterLogits()
    {
        int chunks = (_experts + RouterChunk - 1) / RouterChunk;
        int c;
        var m = _router;
        while ((c = Interlocked.Increment(ref _nextR) - 1) < chunks)
        {
            int r0 = c * RouterChunk, rows = Math.Min(RouterChunk, _experts - r0);
            _kRouter.Run(_hidden, m.Data + r0 * m.RowBytes, m.RowBytes, rows, XAct(_aRouter), XRow(_aRouter), null, _tokens, _logits + r0, _experts);
        }
    }

    private void RouteTokens(int tid)
    {
        float* scratch = _routeScratch + tid * 2 * _experts;
        int t;
        while ((t = Interlocked.Increment(ref _nextRoute) - 1) < _tokens)
        {
            float* logits = _logits + (long)t * _experts;
            if (_routerBias != null)
            {
                for (int e = 0; e < _experts; e++)
                {
                    logits[e] += _routerBias[e];
                }
            }

            // ggml's rule: NaN and ±∞ propagate. A token with a non-finite input (or NaN router logits) gets NaN
            // routing weights, so every output of that token is NaN whatever the weight format; valid expert ids
            // keep the grouping in bounds.
            if (!AllFinite(_x + (long)t * _hidden, _hidden) || !AllFinite(logits, _experts) && HasNaN(logits, _experts))
            {
                for (int s = 0; s < _topK; s++)
                {
                    _ids[t * _topK + s] = s;
                    _weights[t * _topK + s] = float.NaN;
                }

                _shScale[t] = float.NaN;
                continue;
            }

            MoeRouter.Route(_r, logits, _selectionBias, _ids + t * _topK, _weights + t * _topK, scratch, t);
            if (_kShInp != null)
            {
                float s;
                var m = _shInp;
                _kShInp.Run(_hidden, m.Data, m.RowBytes, 1, XAct(_aShInp) + t * XRow(_aShInp), XRow(_aShInp), null, 1, &s, 1);
                _shScale[t] = 1f / (1f + MathF.Exp(-s));
            }
            else
            {
                _shScale[t] = 1f;
            }
        }
    }

    // Serial (thread 0): group the (token, slot) pairs by expert and lay out the task lists.
    private void Group()
    {
        int tokens = _tokens, k = _topK, e = _experts;
        new Span<int>(_counts, e + 1).Clear();
        for (int i = 0; i < tokens * k; i++)
        {
            _counts[_ids[i]]++;
        }

        _counts[e] = _hasShared ? tokens : 0;
        _offsets[0] = 0;
        for (int x = 0; x <= e; x++)
        {
            _offsets[x + 1] = _offsets[x] + _counts[x];
        }

        // Fill positions in token order so each expert's token list is ascending.
        int* fill = _remaining; // used as cursors here, then set to the chunk counts below
        for (int x = 0; x < e; x++)
        {
            fill[x] = _offsets[x];
        }

        for (int t = 0; t < tokens; t++)
        {
            for (int s = 0; s < k; s++)
            {
                int ex = _ids[t * k + s];
                int pos = fill[ex]++;
                _posToken[pos] = t;
                _posWeight[pos] = _weights[t * k + s];
            }
        }

        for (int t = 0; t < _counts[e]; t++)
        {
            _posToken[_offsets[e] + t] = t;
            _posWeight[_offsets[e] + t] = _shScale[t];
        }

        int na = 0, nActive = 0;
        for (int x = 0; x <= e; x++)
        {
            if (_counts[x] == 0)
            {
                _remaining[x] = 0;
                continue;
            }

            _active[nActive++] = x;
            int f = x == e ? _ffnShared : _ffn;
            _remaining[x] = (f + GateUpChunk - 1) / GateUpChunk;
            for (int r0 = 0; r0 < f; r0 += GateUpChunk)
            {
                _tasksA[2 * na] = x;
                _tasksA[2 * na + 1] = r0;
                na++;
            }
        }

        _nTasksA = na;
        _nActive = nActive;
        _nTasksD = (_hidden + DownChunk - 1) / DownChunk;
        _nextA = _nextD = 0;
    }

    private void GateUp()
    {
        int i;
        while ((i = Interlocked.Increment(ref _nextA) - 1) < _nTasksA)
        {
            int e = _tasksA[2 * i], r0 = _tasksA[2 * i + 1];
            bool shared = e == _experts;
            var gm = shared ? _shGate : _gate;
            var um = shared ? _shUp : _up;
            var kg = shared ? _kShGate! : _kGate;
            var ku = shared ? _kShUp! : _kUp;
            int slot = shared ? _aShGate : _aGate;
            int f = gm.Rows, rows = Math.Min(GateUpChunk, f - r0);
            int count = _counts[e], off = _offsets[e];
            byte* act = XAct(slot);
            long actRow = XRow(slot);
            int* toks = _posToken + off;
            float* g = _g + (long)off * _ffnMax + r0;
            float* u = _u + (long)off * _ffnMax + r0;
            int ge = shared ? 0 : e;
            kg.Run(_hidden, gm.Expert(ge) + r0 * gm.RowBytes, gm.RowBytes, rows, act, actRow, toks, count, g, _ffnMax);
            ku.Run(_hidden, um.Expert(ge) + r0 * um.RowBytes, um.RowBytes, rows, act, actRow, toks, count, u, _ffnMax);
            float* gb = !shared && _gateBias != null ? _gateBias + (long)e * _ffn + r0 : null;
            float* ub = !shared && _upBias != null ? _upBias + (long)e * _ffn + r0 : null;
            for (int j = 0; j < count; j++)
            {
                Activate(g + (long)j * _ffnMax, u + (long)j * _ffnMax, gb, ub, rows);
            }

            // The thread that completes an expert's last chunk quantizes its intermediate rows for down.
            if (Interlocked.Decrement(ref _remaining[e]) == 0)
            {
                var type = shared ? _kShDown!.ActivationType : _kDown.ActivationType;
                for (int j = 0; j < count; j++)
                {
                    ActivationQuant.Quantize(type, _g + (long)(off + j) * _ffnMax, _hq + (off + j) * _hRowMax, f);
                }
            }
        }
    }

    private void Activate(float* g, float* u, float* gb, float* ub, int n)
    {
        if (_r.Activation == MoeActivation.SwigluOai)
        {
            float alpha = _r.OaiAlpha, limit = _r.OaiLimit;
            for (int i = 0; i < n; i++)
            {
                float x = g[i] + (gb != null ? gb[i] : 0f);
                float y = u[i] + (ub != null ? ub[i] : 0f);
                x = MathF.Min(x, limit);
                y = Math.Clamp(y, -limit, limit);
                g[i] = x / (1f + MathF.Exp(-alpha * x)) * (y + 1f);
            }

            return;
        }

        if (gb != null || ub != null)
        {
            for (int i = 0; i < n; i++)
            {
                g[i] += gb != null ? gb[i] : 0f;
                u[i] += ub != null ? ub[i] : 0f;
            }
        }

        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; k + 8 <= n; k += 8)
            {
                var x = Vector256.Load(g + k);
                var s = x / (Vector256<float>.One + Vector256.Exp(-x));
                (s * Vector256.Load(u + k)).Store(g + k);
            }
        }

        for (; k < n; k++)
        {
            float x = g[k];
            g[k] = x / (1f + MathF.Exp(-x)) * u[k];
        }
    }

    private void DownAccumulate(int tid)
    {
        float* tmp = _downTmp + (long)tid * _maxTokens * DownChunk;
        int c;
        while ((c = Interlocked.Increment(ref _nextD) - 1) < _nTasksD)
        {
            int r0 = c * DownChunk, rows = Math.Min(DownChunk, _hidden - r0);
            for (int t = 0; t < _tokens; t++)
            {
                new Span<float>(_out + (long)t * _hidden + r0, rows).Clear();
            }

            for (int a = 0; a < _nActive; a++)
            {
                int e = _active[a];
                bool shared = e == _experts;
                var dm = shared ? _shDown : _down;
                var kd = shared ? _kShDown! : _kDown;
                int count = _counts[e], off = _offsets[e];
                kd.Run(dm.Columns, dm.Expert(shared ? 0 : e) + r0 * dm.RowBytes, dm.RowBytes, rows, _hq + off * _hRowMax, _hRowMax, null, count, tmp, rows);
                float* bias = !shared && _downBias != null ? _downBias + (long)e * _hidden + r0 : null;
                for (int j = 0; j < count; j++)
                {
                    float* o = _out + (long)_posToken[off + j] * _hidden + r0;
                    float* d = tmp + (long)j * rows;
                    if (bias != null)
                    {
                        for (int r = 0; r < rows; r++)
                        {
                            d[r] += bias[r];
                        }
                    }

                    Axpy(o, d, _posWeight[off + j], rows);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float* o, float* x, float a, int n)
    {
        int i = 0;
        var va = Vector256.Create(a);
        for (; i + 8 <= n; i += 8)
        {
            Vector256.FusedMultiplyAdd(Vector256.Load(x + i), va, Vector256.Load(o + i)).Store(o + i);
        }

        for (; i < n; i++)
        {
            o[i] += x[i] * a;
        }
    }

    private static bool AllFinite(float* v, int n)
    {
        // x·0 is 0 for finite x and NaN for ±∞ and NaN.
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            acc += Vector256.Load(v + i) * Vector256<float>.Zero;
        }

        float s = Vector256.Sum(acc);
        for (; i < n; i++)
        {
            s += v[i] * 0f;
        }

        return s == 0f;
    }

    private static bool HasNaN(float* v, int n)
    {
        for (int i = 0; i < n; i++)
        {
            if (float.IsNaN(v[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    private CpuMoeExecutor NotDisposed()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        return this;
    }

    /// <summary>
    /// Stops the worker threads, frees the scratch memory and releases the lease; harmless when repeated. Refused with
    /// <see cref="InvalidOperationException"/> while a Forward call runs. Without it, the arena (a SafeHandle) and an
    /// owned pool are released by their finalizers.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            throw new InvalidOperationException("cannot dispose the MoE executor while a Forward call is running");
        }

        Volatile.Write(ref _disposed, true);
        if (_ownsPool)
        {
            _pool.Dispose();
        }

        _arena.Dispose();
        _lease?.Dispose();
    }
}
