namespace Ferrum.GgmlReference;

/// <summary>
/// The shape and weight types of one routed MoE block as ggml builds it (llama.cpp build_moe_ffn with softmax
/// gating and SiLU-gated experts, no shared expert, no biases).
/// </summary>
/// <param name="Hidden">n_embd: router and gate/up columns, down rows.</param>
/// <param name="ExpertFfn">Expert FFN size: gate/up rows, down columns.</param>
/// <param name="Experts">Number of routed experts.</param>
/// <param name="TopK">Experts used per token.</param>
/// <param name="NormalizeWeights">Renormalize the K weights (w / max(Σw, 2^-14)): qwen3moe, llama/Mixtral; not olmoe.</param>
/// <param name="RouterType">ggml type id of the router [hidden, experts].</param>
/// <param name="GateType">ggml type id of the gate stack [hidden, ffn, experts].</param>
/// <param name="UpType">ggml type id of the up stack [hidden, ffn, experts].</param>
/// <param name="DownType">ggml type id of the down stack [ffn, hidden, experts].</param>
public sealed record GgmlMoeSpec(int Hidden, int ExpertFfn, int Experts, int TopK, bool NormalizeWeights,
    int RouterType, int GateType, int UpType, int DownType);

/// <summary>
/// llama.cpp's build_moe_ffn as a ggml graph over caller memory (weights are not copied): logits = router·x,
/// probs = softmax, top-K = argsort_top_k, weights = get_rows(probs), optionally renormalized (sum_rows, clamp at
/// 2^-14, div), gate/up/down = mul_mat_id, swiglu_split, experts × weights, sum of the K views.
/// The weight stacks must be contiguous ggml tensors (as in a GGUF file).
/// </summary>
public sealed unsafe class GgmlMoeBlock : IDisposable
{
    private const float MinWeightSum = 6.103515625e-5f; // 2^-14, llama.cpp's clamp of the weight sum
    private const int MaxTypeId = 39; // GGML_TYPE_MXFP4, the last type of this ggml build (GGML_TYPE_COUNT 40)
    private void* _wctx, _ctx;
    private void* _x;
    private readonly void* _router, _gate, _up, _down;

    /// <summary>Builds the graph for <paramref name="tokens"/> tokens; throws before calling ggml on an invalid shape.</summary>
    public GgmlMoeBlock(GgmlMoeSpec spec, int tokens, void* router, void* gate, void* up, void* down)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec, tokens, router, gate, up, down);
        int h = spec.Hidden, f = spec.ExpertFfn, e = spec.Experts;
        _wctx = GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = 16 * GgmlNative.TensorOverhead(), MemBuffer = IntPtr.Zero, NoAlloc = 1 });
        _router = GgmlNative.NewTensor2d(_wctx, spec.RouterType, h, e);
        _gate = GgmlNative.NewTensor3d(_wctx, spec.GateType, h, f, e);
        _up = GgmlNative.NewTensor3d(_wctx, spec.UpType, h, f, e);
        _down = GgmlNative.NewTensor3d(_wctx, spec.DownType, f, h, e);
        SetWeights(router, gate, up, down);
        (Spec, Tokens) = (spec, tokens);
        Graph = Build(spec, tokens, out var output);
        Output = output;
    }

    /// <summary>
    /// Builds the graph for <paramref name="tokens"/> tokens on one layer's placed tensors (plain or repacked,
    /// see <see cref="GgmlMoeWeights"/>); the block does not own them and <see cref="SetWeights"/> is not available.
    /// </summary>
    public GgmlMoeBlock(GgmlMoeWeights weights, int tokens)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var spec = weights.Spec;
        Validate(spec, tokens, weights.Router, weights.Gate, weights.Up, weights.Down);
        _router = weights.Router;
        _gate = weights.Gate;
        _up = weights.Up;
        _down = weights.Down;
        (Spec, Tokens) = (spec, tokens);
        Graph = Build(spec, tokens, out var output);
        Output = output;
    }

    private void* Build(GgmlMoeSpec spec, int tokens, out float* output)
    {
        int h = spec.Hidden, f = spec.ExpertFfn, e = spec.Experts, k = spec.TopK;
        void* r = _router, g = _gate, u = _up, d = _down;

        // Every intermediate is allocated in the context: x, logits, probs, ids, weights (+ sums), gate/up/act
        // [F, K, T], down and weighted [H, K, T], K-1 partial sums [H, T]; plus tensor and graph headers.
        long floats = (long)tokens * (2L * h + 3L * e + 4L * k + 3L * f * k + 4L * h * k);
        nuint size = (nuint)(4 * floats) + 128 * GgmlNative.TensorOverhead() + (nuint)k * 4 * GgmlNative.TensorOverhead() + GgmlNative.GraphOverhead() + (1 << 20);
        _ctx = GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = size, MemBuffer = IntPtr.Zero, NoAlloc = 0 });
        _x = GgmlNative.NewTensor2d(_ctx, 0, h, tokens);
        var logits = GgmlNative.MulMat(_ctx, r, _x);                                    // [E, T]
        var probs = GgmlNative.SoftMax(_ctx, logits);                                   // [E, T]
        var sel = GgmlNative.ArgsortTopK(_ctx, probs, k);                               // [K, T] i32
        var w = GgmlNative.GetRows(_ctx, GgmlNative.Reshape3d(_ctx, probs, 1, e, tokens), sel); // [1, K, T]
        if (spec.NormalizeWeights)
        {
            var w2 = GgmlNative.Reshape2d(_ctx, w, k, tokens);
            var sum = GgmlNative.Clamp(_ctx, GgmlNative.SumRows(_ctx, w2), MinWeightSum, float.PositiveInfinity);
            w = GgmlNative.Reshape3d(_ctx, GgmlNative.Div(_ctx, w2, sum), 1, k, tokens);
        }

        var x3 = GgmlNative.Reshape3d(_ctx, _x, h, 1, tokens);
        var hg = GgmlNative.MulMatId(_ctx, g, x3, sel);                                 // [F, K, T]
        var hu = GgmlNative.MulMatId(_ctx, u, x3, sel);
        var act = GgmlNative.SwigluSplit(_ctx, hg, hu);
        var ex = GgmlNative.Mul(_ctx, GgmlNative.MulMatId(_ctx, d, act, sel), w);       // [H, K, T]
        nuint nb1 = (nuint)(4L * h * k);
        void* outp = GgmlNative.View2d(_ctx, ex, h, tokens, nb1, 0);
        for (int i = 1; i < k; i++)
        {
            outp = GgmlNative.Add(_ctx, outp, GgmlNative.View2d(_ctx, ex, h, tokens, nb1, (nuint)(4L * h * i)));
        }

        var graph = GgmlNative.NewGraph(_ctx);
        GgmlNative.BuildForwardExpand(graph, outp);
        output = (float*)GgmlNative.GetData(outp);
        return graph;
    }

    /// <summary>The block's shape and types.</summary>
    public GgmlMoeSpec Spec { get; }

    /// <summary>Tokens per pass.</summary>
    public int Tokens { get; }

    /// <summary>The ggml graph (compute it with <see cref="GgmlCpuBackend.Compute"/>).</summary>
    public void* Graph { get; }

    /// <summary>The block output [tokens × hidden] after a compute.</summary>
    public float* Output { get; }

    /// <summary>
    /// Points the graph at another layer's weights of the same shape and types (one graph, and one activation
    /// context, serves every layer).
    /// </summary>
    public void SetWeights(void* router, void* gate, void* up, void* down)
    {
        if (_wctx == null)
        {
            throw new InvalidOperationException("ggml MoE block: built on GgmlMoeWeights; make one block per layer instead of swapping weights");
        }

        if (router == null || gate == null || up == null || down == null)
        {
            throw new ArgumentNullException(nameof(router), "ggml MoE block: a weight pointer is null");
        }

        GgmlNative.SetData(_router, router);
        GgmlNative.SetData(_gate, gate);
        GgmlNative.SetData(_up, up);
        GgmlNative.SetData(_down, down);
    }

    /// <summary>Copies an input [tokens × hidden] into the graph.</summary>
    public void SetInput(float* x)
    {
        long bytes = 4L * Tokens * Spec.Hidden;
        Buffer.MemoryCopy(x, GgmlNative.GetData(_x), bytes, bytes);
    }

    /// <summary>Sets the input and computes the block on <paramref name="backend"/>.</summary>
    public void Forward(GgmlCpuBackend backend, float* x)
    {
        ArgumentNullException.ThrowIfNull(backend);
        SetInput(x);
        backend.Compute(Graph);
    }

    public void Dispose()
    {
        if (_ctx != null)
        {
            GgmlNative.Free(_ctx);
            _ctx = null;
        }

        if (_wctx != null)
        {
            GgmlNative.Free(_wctx);
            _wctx = null;
        }
    }

    // A ggml assert aborts the process: reject what ggml would assert on.
    internal static void Validate(GgmlMoeSpec s, int tokens, void* router, void* gate, void* up, void* down)
    {
        if (tokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "ggml MoE block: tokens must be at least 1");
        }

        if (s.Hidden < 1 || s.ExpertFfn < 1 || s.Experts < 1 || s.TopK < 1 || s.TopK > s.Experts)
        {
            throw new ArgumentException($"ggml MoE block: invalid shape hidden {s.Hidden}, ffn {s.ExpertFfn}, experts {s.Experts}, top-k {s.TopK}");
        }

        if (router == null || gate == null || up == null || down == null)
        {
            throw new ArgumentNullException(nameof(router), "ggml MoE block: a weight pointer is null");
        }

        CheckType("router", s.RouterType, s.Hidden);
        CheckType("gate", s.GateType, s.Hidden);
        CheckType("up", s.UpType, s.Hidden);
        CheckType("down", s.DownType, s.ExpertFfn);
    }

    internal static void CheckType(string what, int type, long columns)
    {
        if (type < 0 || type > MaxTypeId || GgmlNative.TypeSize(type) == 0)
        {
            throw new ArgumentException($"ggml MoE block: {what} has unknown ggml type {type}");
        }

        long block = GgmlNative.BlockSize(type);
        if (block <= 0 || columns % block != 0)
        {
            throw new ArgumentException($"ggml MoE block: {what} row of {columns} is not a multiple of the {GgmlNative.TypeName(type)} block ({block})");
        }
    }
}
