using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;

namespace Ferrum.Runtime.Tests.Moe;

/// <summary>
/// A small random MoE block of one weight format and architecture, with three ways to run it: Ferrum's
/// <see cref="CpuMoeExecutor"/>, ggml (mul_mat_id graph on the same bytes, routing from <see cref="ReferenceRouting"/>),
/// and an exact float reference (ggml-dequantized weights, double math).
/// </summary>
internal sealed unsafe class MoeTestLayer : IDisposable
{
    public const int Hidden = 256, Ffn = 256, SharedFfn = 256, Experts = 8, TopK = 2;

    private readonly List<NativeArray> _owned = [];

    /// <param name="type">Weight format of every matrix but the router.</param>
    /// <param name="arch">Architecture: qwen3moe, qwen2moe, olmoe, llama (Mixtral), deepseek2, gpt-oss.</param>
    /// <param name="seed">Random seed.</param>
    /// <param name="groupLimited">deepseek2 only: DeepSeek-V3's group-limited selection, 2 of 4 expert groups.</param>
    public MoeTestLayer(GgmlType type, string arch, int seed, bool groupLimited = false)
    {
        Type = type;
        Arch = arch;
        int s = seed;
        RouterF = TestData.Gaussian(Hidden * Experts, s++, 0.08f);
        GateF = TestData.Gaussian(Hidden * Ffn * Experts, s++, 0.06f);
        UpF = TestData.Gaussian(Hidden * Ffn * Experts, s++, 0.06f);
        DownF = TestData.Gaussian(Ffn * Hidden * Experts, s++, 0.06f);
        HasShared = arch is "qwen2moe" or "deepseek2";
        HasBias = arch == "gpt-oss";
        if (HasShared)
        {
            ShGateF = TestData.Gaussian(Hidden * SharedFfn, s++, 0.06f);
            ShUpF = TestData.Gaussian(Hidden * SharedFfn, s++, 0.06f);
            ShDownF = TestData.Gaussian(SharedFfn * Hidden, s++, 0.06f);
        }

        if (arch == "qwen2moe")
        {
            ShInpF = TestData.Gaussian(Hidden, s++, 0.1f);
        }

        if (HasBias)
        {
            RouterBiasF = TestData.Gaussian(Experts, s++, 0.3f);
            GateBiasF = TestData.Gaussian(Ffn * Experts, s++, 0.2f);
            UpBiasF = TestData.Gaussian(Ffn * Experts, s++, 0.2f);
            DownBiasF = TestData.Gaussian(Hidden * Experts, s++, 0.2f);
        }

        if (arch == "deepseek2")
        {
            SelBiasF = TestData.Gaussian(Experts, s++, 0.05f);
        }

        Routing = arch switch
        {
            "deepseek2" => MoeRouting.ForArchitecture(arch, Experts, TopK, gatingFunction: 2, weightsNorm: true, weightsScale: 2.5f, groupCount: groupLimited ? 4 : 0, groupsUsed: groupLimited ? 2 : 0),
            _ => MoeRouting.ForArchitecture(arch, Experts, TopK),
        };

        Gate = Quantize(GateF, Hidden, Ffn * Experts);
        Up = Quantize(UpF, Hidden, Ffn * Experts);
        Down = Quantize(DownF, Ffn, Hidden * Experts);
        Router = Own(NativeArray.FromFloats(RouterF));
        if (HasShared)
        {
            ShGate = Quantize(ShGateF!, Hidden, SharedFfn);
            ShUp = Quantize(ShUpF!, Hidden, SharedFfn);
            ShDown = Quantize(ShDownF!, SharedFfn, Hidden);
        }
    }

    public GgmlType Type { get; }

    public string Arch { get; }

    public MoeRouting Routing { get; }

    public bool HasShared { get; }

    public bool HasBias { get; }

    public float[] RouterF { get; }

    public float[] GateF { get; }

    public float[] UpF { get; }

    public float[] DownF { get; }

    public float[]? ShGateF { get; }

    public float[]? ShUpF { get; }

    public float[]? ShDownF { get; }

    public float[]? ShInpF { get; }

    public float[]? RouterBiasF { get; }

    public float[]? GateBiasF { get; }

    public float[]? UpBiasF { get; }

    public float[]? DownBiasF { get; }

    public float[]? SelBiasF { get; }

    public NativeArray Gate { get; }

    public NativeArray Up { get; }

    public NativeArray Down { get; }

    public NativeArray Router { get; }

    public NativeArray? ShGate { get; }

    public NativeArray? ShUp { get; }

    public NativeArray? ShDown { get; }

    private NativeArray Own(NativeArray a)
    {
        _owned.Add(a);
        return a;
    }

    private NativeArray Quantize(float[] values, int cols, int rows)
    {
        var info = GgmlTypeInfo.Get(Type);
        var dst = Own(new NativeArray(info.RowBytes(cols) * rows));
        if (Type == GgmlType.F32)
        {
            values.AsSpan().CopyTo(new Span<float>(dst.Pointer, values.Length));
            return dst;
        }

        using var src = NativeArray.FromFloats(values);
        GgmlCpuOps.QuantizeRows((int)Type, src.Floats, dst.Pointer, rows, cols);
        return dst;
    }

    private NativeArray? OwnFloats(float[]? v) => v == null ? null : Own(NativeArray.FromFloats(v));

    /// <summary>The block as Ferrum's one layer description, over this object's memory (not copied).</summary>
    public MoeLayer Layer(MoeRouting? routing = null)
    {
        ExpertStack Stack(string name, GgmlType type, NativeArray a, int cols, int rows, int experts = 1)
        {
            long rowBytes = GgmlTypeInfo.Get(type).RowBytes(cols);
            return ExpertStack.Create(type, WeightBytes.FromPointer(a.Pointer, a.Length), name, 0, experts, rows, cols, rowBytes, rowBytes * rows);
        }

        ExpertStack? Vector(string name, float[]? v, int experts, int length) =>
            OwnFloats(v) is { } a ? Stack(name, GgmlType.F32, a, length, 1, experts) : null;

        return new MoeLayer
        {
            Architecture = Arch,
            Routing = routing ?? Routing,
            Router = Stack("router", GgmlType.F32, Router, Hidden, Experts),
            Gate = Stack("gate", Type, Gate, Hidden, Ffn, Experts),
            Up = Stack("up", Type, Up, Hidden, Ffn, Experts),
            Down = Stack("down", Type, Down, Ffn, Hidden, Experts),
            RouterBias = Vector("router bias", RouterBiasF, 1, Experts),
            GateBias = Vector("gate bias", GateBiasF, Experts, Ffn),
            UpBias = Vector("up bias", UpBiasF, Experts, Ffn),
            DownBias = Vector("down bias", DownBiasF, Experts, Hidden),
            SelectionBias = Vector("selection bias", SelBiasF, 1, Experts),
            SharedGate = HasShared ? Stack("shg", Type, ShGate!, Hidden, SharedFfn) : null,
            SharedUp = HasShared ? Stack("shu", Type, ShUp!, Hidden, SharedFfn) : null,
            SharedDown = HasShared ? Stack("shd", Type, ShDown!, SharedFfn, Hidden) : null,
            SharedGateInput = ShInpF != null ? Stack("shinp", GgmlType.F32, OwnFloats(ShInpF)!, Hidden, 1) : null,
        };
    }

    public float[] Ferrum(float[] x, int threads, int maxTokens = 4)
    {
        using var layer = new CpuMoeExecutor(Layer(), new CpuMoeOptions { Threads = threads, MaxTokens = maxTokens });
        var y = new float[x.Length];
        layer.Forward(x, y);
        return y;
    }

    /// <summary>Routing of every token from the float router in double precision.</summary>
    public (int[] Ids, double[] Weights, double[] SharedScale) Route(float[] x)
    {
        int tokens = x.Length / Hidden;
        var ids = new int[tokens * TopK];
        var w = new double[tokens * TopK];
        var sh = new double[tokens];
        string gating = Routing.Gating switch { MoeGating.Sigmoid => "sigmoid", MoeGating.SoftmaxOverSelected => "softmax_selected", _ => "softmax" };
        for (int t = 0; t < tokens; t++)
        {
            var logits = new double[Experts];
            for (int e = 0; e < Experts; e++)
            {
                double s = RouterBiasF?[e] ?? 0;
                for (int i = 0; i < Hidden; i++)
                {
                    s += (double)RouterF[e * Hidden + i] * x[t * Hidden + i];
                }

                logits[e] = s;
            }

            var (id, wt) = ReferenceRouting.Route(logits, gating, TopK, Routing.NormalizeWeights, Routing.WeightScale, SelBiasF?.Select(v => (double)v).ToArray(), Routing.ExpertGroupCount, Routing.ExpertGroupsUsed);
            id.CopyTo(ids, t * TopK);
            wt.CopyTo(w, t * TopK);
            double g = 0;
            if (ShInpF != null)
            {
                for (int i = 0; i < Hidden; i++)
                {
                    g += (double)ShInpF[i] * x[t * Hidden + i];
                }

                sh[t] = 1 / (1 + Math.Exp(-g));
            }
            else
            {
                sh[t] = 1;
            }
        }

        return (ids, w, sh);
    }

    /// <summary>ggml: mul_mat_id for gate, up, down (+ add_id biases), swiglu / swiglu_oai, mul_mat for the shared expert.</summary>
    public float[] Ggml(float[] x, int threads) => Ggml(x, threads, x);

    /// <summary>ggml with <c>x[index] = +∞</c>, routed as the finite <paramref name="x"/> routes (an ∞ logit has no routing).</summary>
    public float[] GgmlWithInfinity(float[] x, int index, int threads)
    {
        var hostile = (float[])x.Clone();
        hostile[index] = float.PositiveInfinity;
        return Ggml(hostile, threads, x);
    }

    private float[] Ggml(float[] x, int threads, float[] routeFrom)
    {
        int tokens = x.Length / Hidden;
        var (ids, w, sh) = Route(routeFrom);
        var ctx = GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = 64u << 20, MemBuffer = IntPtr.Zero, NoAlloc = 0 });
        try
        {
            int t = (int)Type;
            var gate = GgmlNative.NewTensor3d(ctx, t, Hidden, Ffn, Experts);
            var up = GgmlNative.NewTensor3d(ctx, t, Hidden, Ffn, Experts);
            var down = GgmlNative.NewTensor3d(ctx, t, Ffn, Hidden, Experts);
            Copy(Gate, gate);
            Copy(Up, up);
            Copy(Down, down);
            var x3 = GgmlNative.NewTensor3d(ctx, 0, Hidden, 1, tokens);
            Copy(x, x3);
            var idt = GgmlNative.NewTensor2d(ctx, 26, TopK, tokens);
            ids.AsSpan().CopyTo(new Span<int>(GgmlNative.GetData(idt), ids.Length));
            var g = GgmlNative.MulMatId(ctx, gate, x3, idt);
            var u = GgmlNative.MulMatId(ctx, up, x3, idt);
            if (HasBias)
            {
                var gb = GgmlNative.NewTensor2d(ctx, 0, Ffn, Experts);
                var ub = GgmlNative.NewTensor2d(ctx, 0, Ffn, Experts);
                Copy(GateBiasF!, gb);
                Copy(UpBiasF!, ub);
                g = GgmlNative.AddId(ctx, g, gb, idt);
                u = GgmlNative.AddId(ctx, u, ub, idt);
            }

            var h = Routing.Activation == MoeActivation.SwigluOai ? GgmlNative.SwigluOai(ctx, g, u, 1.702f, 7f) : GgmlNative.SwigluSplit(ctx, g, u);
            var d = GgmlNative.MulMatId(ctx, down, h, idt);
            if (HasBias)
            {
                var db = GgmlNative.NewTensor2d(ctx, 0, Hidden, Experts);
                Copy(DownBiasF!, db);
                d = GgmlNative.AddId(ctx, d, db, idt);
            }

            var graph = GgmlNative.NewGraph(ctx);
            GgmlNative.BuildForwardExpand(graph, d);
            void* sd = null;
            if (HasShared)
            {
                var shg = GgmlNative.NewTensor2d(ctx, t, Hidden, SharedFfn);
                var shu = GgmlNative.NewTensor2d(ctx, t, Hidden, SharedFfn);
                var shd = GgmlNative.NewTensor2d(ctx, t, SharedFfn, Hidden);
                Copy(ShGate!, shg);
                Copy(ShUp!, shu);
                Copy(ShDown!, shd);
                var x2 = GgmlNative.Reshape2d(ctx, x3, Hidden, tokens);
                var sh1 = GgmlNative.SwigluSplit(ctx, GgmlNative.MulMat(ctx, shg, x2), GgmlNative.MulMat(ctx, shu, x2));
                sd = GgmlNative.MulMat(ctx, shd, sh1);
                GgmlNative.BuildForwardExpand(graph, sd);
            }

            using (var backend = new GgmlCpuBackend(threads))
            {
                backend.Compute(graph);
            }

            var outp = new float[x.Length];
            float* dp = (float*)GgmlNative.GetData(d);
            float* sp = sd == null ? null : (float*)GgmlNative.GetData(sd);
            for (int tok = 0; tok < tokens; tok++)
            {
                for (int i = 0; i < Hidden; i++)
                {
                    double acc = sp == null ? 0 : sh[tok] * sp[tok * Hidden + i];
                    for (int k = 0; k < TopK; k++)
                    {
                        acc += w[tok * TopK + k] * dp[(tok * TopK + k) * Hidden + i];
                    }

                    outp[tok * Hidden + i] = (float)acc;
                }
            }

            return outp;
        }
        finally
        {
            GgmlNative.Free(ctx);
        }
    }

    /// <summary>Exact float reference: weights dequantized by ggml, everything else in double.</summary>
    public float[] FloatReference(float[] x)
    {
        int tokens = x.Length / Hidden;
        var (ids, w, sh) = Route(x);
        var gate = Dequant(Gate, Hidden * Ffn * Experts);
        var up = Dequant(Up, Hidden * Ffn * Experts);
        var down = Dequant(Down, Ffn * Hidden * Experts);
        var outp = new double[x.Length];
        var sg = HasShared ? Dequant(ShGate!, Hidden * SharedFfn) : [];
        var su = HasShared ? Dequant(ShUp!, Hidden * SharedFfn) : [];
        var sdn = HasShared ? Dequant(ShDown!, SharedFfn * Hidden) : [];
        for (int tok = 0; tok < tokens; tok++)
        {
            for (int k = 0; k < TopK; k++)
            {
                int e = ids[tok * TopK + k];
                var hidden = new double[Ffn];
                for (int r = 0; r < Ffn; r++)
                {
                    double g = GateBiasF?[e * Ffn + r] ?? 0, u = UpBiasF?[e * Ffn + r] ?? 0;
                    for (int i = 0; i < Hidden; i++)
                    {
                        g += gate[((long)e * Ffn + r) * Hidden + i] * x[tok * Hidden + i];
                        u += up[((long)e * Ffn + r) * Hidden + i] * x[tok * Hidden + i];
                    }

                    hidden[r] = Act(g, u);
                }

                for (int r = 0; r < Hidden; r++)
                {
                    double s = DownBiasF?[e * Hidden + r] ?? 0;
                    for (int i = 0; i < Ffn; i++)
                    {
                        s += down[((long)e * Hidden + r) * Ffn + i] * hidden[i];
                    }

                    outp[tok * Hidden + r] += w[tok * TopK + k] * s;
                }
            }

            if (HasShared)
            {
                var hidden = new double[SharedFfn];
                for (int r = 0; r < SharedFfn; r++)
                {
                    double g = 0, u = 0;
                    for (int i = 0; i < Hidden; i++)
                    {
                        g += sg[r * Hidden + i] * x[tok * Hidden + i];
                        u += su[r * Hidden + i] * x[tok * Hidden + i];
                    }

                    hidden[r] = g / (1 + Math.Exp(-g)) * u;
                }

                for (int r = 0; r < Hidden; r++)
                {
                    double s = 0;
                    for (int i = 0; i < SharedFfn; i++)
                    {
                        s += sdn[r * SharedFfn + i] * hidden[i];
                    }

                    outp[tok * Hidden + r] += sh[tok] * s;
                }
            }
        }

        return outp.Select(v => (float)v).ToArray();
    }

    private double Act(double g, double u)
    {
        if (Routing.Activation == MoeActivation.SwigluOai)
        {
            double xg = Math.Min(g, 7), yu = Math.Clamp(u, -7, 7);
            return xg / (1 + Math.Exp(-1.702 * xg)) * (yu + 1);
        }

        return g / (1 + Math.Exp(-g)) * u;
    }

    private float[] Dequant(NativeArray q, int n)
    {
        var r = new float[n];
        fixed (float* p = r)
        {
            if (Type == GgmlType.F32)
            {
                new Span<float>(q.Pointer, n).CopyTo(r);
            }
            else
            {
                GgmlCpuOps.ToFloat((int)Type, q.Pointer, p, n);
            }
        }

        return r;
    }

    private static void Copy(NativeArray src, void* tensor)
    {
        long n = (long)GgmlNative.Nbytes(tensor);
        Assert.True(n <= src.Length, $"ggml tensor of {n} bytes is larger than the source buffer of {src.Length}");
        Buffer.MemoryCopy(src.Pointer, GgmlNative.GetData(tensor), n, n);
    }

    private static void Copy(float[] src, void* tensor)
    {
        long n = (long)GgmlNative.Nbytes(tensor);
        Assert.Equal(src.Length * 4L, n);
        src.AsSpan().CopyTo(new Span<float>(GgmlNative.GetData(tensor), src.Length));
    }

    public void Dispose()
    {
        foreach (var a in _owned)
        {
            a.Dispose();
        }
    }
}
