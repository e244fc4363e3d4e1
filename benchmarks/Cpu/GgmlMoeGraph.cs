using Ferrum.GgmlReference;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// llama.cpp's build_moe_ffn for qwen3moe as a ggml graph over caller memory (weights are not copied):
/// logits = router·x, probs = softmax, top-8 = argsort_top_k, weights = get_rows(probs), renormalized
/// (sum_rows, clamp at 2^-14, div), gate/up/down = mul_mat_id, swiglu_split, experts × weights, sum of the 8 views.
/// </summary>
internal sealed unsafe class GgmlMoeGraph : IDisposable
{
    private const int Hidden = 2048, Ffn = 768, Experts = 128, TopK = 8;
    private readonly void* _wctx, _ctx;
    private readonly void* _x;
    private readonly int _tokens;

    public GgmlMoeGraph(int tokens, byte* router, byte* gate, byte* up, byte* down)
    {
        _tokens = tokens;
        _wctx = GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = 16 * GgmlNative.TensorOverhead(), MemBuffer = IntPtr.Zero, NoAlloc = 1 });
        var r = GgmlNative.NewTensor2d(_wctx, 0, Hidden, Experts);
        var g = GgmlNative.NewTensor3d(_wctx, 12, Hidden, Ffn, Experts);
        var u = GgmlNative.NewTensor3d(_wctx, 12, Hidden, Ffn, Experts);
        var d = GgmlNative.NewTensor3d(_wctx, 14, Ffn, Hidden, Experts);
        GgmlNative.SetData(r, router);
        GgmlNative.SetData(g, gate);
        GgmlNative.SetData(u, up);
        GgmlNative.SetData(d, down);

        long act = 4L * tokens * (Hidden * 2 + Experts * 4 + TopK * 8 + (long)Ffn * TopK * 4 + (long)Hidden * TopK * 3);
        _ctx = GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = (nuint)(act + (64 << 20)), MemBuffer = IntPtr.Zero, NoAlloc = 0 });
        _x = GgmlNative.NewTensor2d(_ctx, 0, Hidden, tokens);
        var logits = GgmlNative.MulMat(_ctx, r, _x);                       // [E, T]
        var probs = GgmlNative.SoftMax(_ctx, logits);                      // [E, T]
        var sel = GgmlNative.ArgsortTopK(_ctx, probs, TopK);               // [K, T] i32
        var w = GgmlNative.GetRows(_ctx, GgmlNative.Reshape3d(_ctx, probs, 1, Experts, tokens), sel); // [1, K, T]
        var w2 = GgmlNative.Reshape2d(_ctx, w, TopK, tokens);
        var sum = GgmlNative.Clamp(_ctx, GgmlNative.SumRows(_ctx, w2), 6.103515625e-5f, float.PositiveInfinity);
        w = GgmlNative.Reshape3d(_ctx, GgmlNative.Div(_ctx, w2, sum), 1, TopK, tokens);
        var x3 = GgmlNative.Reshape3d(_ctx, _x, Hidden, 1, tokens);
        var hg = GgmlNative.MulMatId(_ctx, g, x3, sel);                    // [F, K, T]
        var hu = GgmlNative.MulMatId(_ctx, u, x3, sel);
        var h = GgmlNative.SwigluSplit(_ctx, hg, hu);
        var e = GgmlNative.Mul(_ctx, GgmlNative.MulMatId(_ctx, d, h, sel), w); // [H, K, T]
        nuint nb1 = (nuint)(4 * Hidden * TopK);
        void* outp = GgmlNative.View2d(_ctx, e, Hidden, tokens, nb1, 0);
        for (int k = 1; k < TopK; k++)
        {
            outp = GgmlNative.Add(_ctx, outp, GgmlNative.View2d(_ctx, e, Hidden, tokens, nb1, (nuint)(4 * Hidden * k)));
        }

        Output = outp;
        Graph = GgmlNative.NewGraph(_ctx);
        GgmlNative.BuildForwardExpand(Graph, outp);
    }

    public void* Graph { get; }

    public void* Output { get; }

    public void SetInput(float* x) => Buffer.MemoryCopy(x, GgmlNative.GetData(_x), 4L * _tokens * Hidden, 4L * _tokens * Hidden);

    public void Dispose()
    {
        GgmlNative.Free(_ctx);
        GgmlNative.Free(_wctx);
    }
}
