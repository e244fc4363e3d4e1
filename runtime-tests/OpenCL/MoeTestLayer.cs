using System.Runtime.InteropServices;
using Ferrum.Backends;
using Ferrum.Backends.OpenCL;
using Ferrum.GgmlReference;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// Random MoE layer weights quantized by ggml, viewed as a <see cref="MoeLayer"/> (over copies the views own, which CPU
/// devices use in place), with the exact float reference of the layer computed in double from ggml's own
/// dequantization.
/// </summary>
internal sealed unsafe class MoeTestLayer
{
    public MoeTestLayer(GgmlType gateUpType, GgmlType downType, int hidden, int ffn, int experts, int seed, bool fusedGateUp = false)
    {
        Hidden = hidden;
        Ffn = ffn;
        Experts = experts;
        GateUpType = gateUpType;
        DownType = downType;
        FusedGateUp = fusedGateUp;
        var gate = GgmlReferenceData.RandomFloats(experts * ffn * hidden, seed);
        var up = GgmlReferenceData.RandomFloats(experts * ffn * hidden, seed + 1);
        var down = GgmlReferenceData.RandomFloats(experts * hidden * ffn, seed + 2);
        var gateQ = GgmlReferenceData.Quantize((int)gateUpType, gate, hidden);
        var upQ = GgmlReferenceData.Quantize((int)gateUpType, up, hidden);
        GateF = GgmlReferenceData.ToFloat((int)gateUpType, gateQ, gate.Length);
        UpF = GgmlReferenceData.ToFloat((int)gateUpType, upQ, up.Length);
        var downQ = GgmlReferenceData.Quantize((int)downType, down, ffn);
        DownF = GgmlReferenceData.ToFloat((int)downType, downQ, down.Length);
        Down = Pinned(downQ);
        var expertBytes = gateQ.Length / experts;
        if (fusedGateUp)
        {
            // ffn_gate_up_exps: per expert, the gate rows then the up rows.
            GateUp = GC.AllocateArray<byte>(gateQ.Length * 2, pinned: true);
            for (var e = 0; e < experts; e++)
            {
                Array.Copy(gateQ, e * expertBytes, GateUp, 2 * e * expertBytes, expertBytes);
                Array.Copy(upQ, e * expertBytes, GateUp, (2 * e * expertBytes) + expertBytes, expertBytes);
            }

            Gate = Up = GateUp;
        }
        else
        {
            Gate = Pinned(gateQ);
            Up = Pinned(upQ);
            GateUp = null;
        }

        var rng = new Random(seed + 3);
        Router = new float[experts * hidden];
        for (var i = 0; i < Router.Length; i++)
        {
            Router[i] = (float)(rng.NextDouble() - 0.5);
        }

        SelectionBias = new float[experts];
        for (var i = 0; i < experts; i++)
        {
            SelectionBias[i] = (float)(rng.NextDouble() * 0.2);
        }

        RouterBytes = MemoryMarshal.AsBytes(Router.AsSpan()).ToArray();
        SelectionBiasBytes = MemoryMarshal.AsBytes(SelectionBias.AsSpan()).ToArray();
    }

    public int Hidden { get; }

    public int Ffn { get; }

    public int Experts { get; }

    public GgmlType GateUpType { get; }

    public GgmlType DownType { get; }

    public bool FusedGateUp { get; }

    public byte[] Gate { get; }

    public byte[] Up { get; }

    public byte[]? GateUp { get; }

    public byte[] Down { get; }

    public float[] GateF { get; }

    public float[] UpF { get; }

    public float[] DownF { get; }

    public float[] Router { get; }

    public float[] SelectionBias { get; }

    private byte[] RouterBytes { get; }

    private byte[] SelectionBiasBytes { get; }

    /// <summary>Routing of <paramref name="topK"/> of this layer's experts.</summary>
    public MoeRouting Routing(int topK, MoeGating gating, bool normalize, float scale = 0f, MoeActivation activation = MoeActivation.SiluGlu) =>
        new() { ExpertCount = Experts, ExpertsPerToken = topK, Gating = gating, NormalizeWeights = normalize, WeightScale = scale, Activation = activation };

    /// <summary>
    /// The layer built in code over copies of the weights that its views own: router, gate, up (two
    /// halves of one tensor when fused), down and, when <paramref name="selectionBias"/>, exp_probs_b.
    /// </summary>
    public MoeLayer Layer(MoeRouting routing, bool selectionBias = false)
    {
        var gateRowBytes = GgmlTypeInfo.Get(GateUpType).RowBytes(Hidden);
        var expertBytes = gateRowBytes * Ffn;
        ExpertStack gate, up;
        if (GateUp is not null)
        {
            var bytes = Bytes(GateUp);
            gate = ExpertStack.Create(GateUpType, bytes, "blk.0.ffn_gate_up_exps.weight[gate]", 0, Experts, Ffn, Hidden, gateRowBytes, 2 * expertBytes);
            up = ExpertStack.Create(GateUpType, bytes, "blk.0.ffn_gate_up_exps.weight[up]", expertBytes, Experts, Ffn, Hidden, gateRowBytes, 2 * expertBytes);
        }
        else
        {
            gate = ExpertStack.Create(GateUpType, Bytes(Gate), "blk.0.ffn_gate_exps.weight", 0, Experts, Ffn, Hidden, gateRowBytes, expertBytes);
            up = ExpertStack.Create(GateUpType, Bytes(Up), "blk.0.ffn_up_exps.weight", 0, Experts, Ffn, Hidden, gateRowBytes, expertBytes);
        }

        var downRow = GgmlTypeInfo.Get(DownType).RowBytes(Ffn);
        return new MoeLayer
        {
            Routing = routing,
            Router = ExpertStack.Create(GgmlType.F32, Bytes(RouterBytes), "blk.0.ffn_gate_inp.weight", 0, 1, Experts, Hidden, 4L * Hidden, 4L * Hidden * Experts),
            Gate = gate,
            Up = up,
            Down = ExpertStack.Create(DownType, Bytes(Down), "blk.0.ffn_down_exps.weight", 0, Experts, Hidden, Ffn, downRow, downRow * Hidden),
            FusedGateUp = GateUp is not null,
            SelectionBias = selectionBias ? ExpertStack.Create(GgmlType.F32, Bytes(SelectionBiasBytes), "blk.0.exp_probs_b.bias", 0, 1, 1, Experts, 4L * Experts, 4L * Experts) : null,
        };
    }

    /// <summary>An executor for <see cref="Layer"/> on the fixture's device, with the fixture's options and the generated programs unless given.</summary>
    public OpenCLMoeExecutor Create(OpenCLContext ctx, MoeRouting routing, bool selectionBias = false, OpenCLMoeOptions? options = null, MoeProgramSources? sources = null)
    {
        using var layer = Layer(routing, selectionBias);
        return new OpenCLMoeExecutor(ctx, layer, sources ?? OpenCLFixture.Sources, options ?? OpenCLFixture.Options);
    }

    public static float[] Activations(int tokens, int hidden, int seed)
    {
        var rng = new Random(seed);
        var x = new float[tokens * hidden];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1) * 0.25f;
        }

        return x;
    }

    /// <summary>Distinct random experts per token and positive weights.</summary>
    public (int[] Ids, float[] Weights) RandomRouting(int tokens, int topK, int seed)
    {
        var rng = new Random(seed);
        var ids = new int[tokens * topK];
        var w = new float[tokens * topK];
        for (var t = 0; t < tokens; t++)
        {
            var perm = Enumerable.Range(0, Experts).OrderBy(_ => rng.Next()).Take(topK).ToArray();
            for (var k = 0; k < topK; k++)
            {
                ids[(t * topK) + k] = perm[k];
                w[(t * topK) + k] = (float)(0.1 + rng.NextDouble());
            }
        }

        return (ids, w);
    }

    /// <summary>act[(t·k + slot), f] = act(gate·x)·(up·x) in double over ggml-dequantized weights.</summary>
    public double[] ReferenceAct(float[] x, int tokens, int[] ids, int topK, bool oai = false)
    {
        var act = new double[tokens * topK * Ffn];
        for (var p = 0; p < tokens * topK; p++)
        {
            var t = p / topK;
            var e = ids[p];
            for (var r = 0; r < Ffn; r++)
            {
                double g = 0, u = 0;
                var row = ((long)e * Ffn + r) * Hidden;
                for (var k = 0; k < Hidden; k++)
                {
                    g += (double)GateF[row + k] * x[(t * Hidden) + k];
                    u += (double)UpF[row + k] * x[(t * Hidden) + k];
                }

                act[(p * Ffn) + r] = oai ? OaiSwiglu(g, u) : g / (1 + Math.Exp(-g)) * u;
            }
        }

        return act;
    }

    /// <summary>out[t, h] = Σ_slot w·down_e(act) in double.</summary>
    public double[] ReferenceOut(float[] x, int tokens, int[] ids, float[] weights, int topK, bool oai = false)
    {
        var act = ReferenceAct(x, tokens, ids, topK, oai);
        var y = new double[tokens * Hidden];
        for (var t = 0; t < tokens; t++)
        {
            for (var k = 0; k < topK; k++)
            {
                var p = (t * topK) + k;
                var e = ids[p];
                for (var h = 0; h < Hidden; h++)
                {
                    double acc = 0;
                    var row = ((long)e * Hidden + h) * Ffn;
                    for (var f = 0; f < Ffn; f++)
                    {
                        acc += DownF[row + f] * act[(p * Ffn) + f];
                    }

                    y[(t * Hidden) + h] += weights[p] * acc;
                }
            }
        }

        return y;
    }

    /// <summary>Routing in double: logits, gating, top-k on prob (+ bias), weights, renormalization, scale (llama.cpp build_moe_ffn).</summary>
    public (int[] Ids, double[] Weights, double Margin) ReferenceRoute(float[] x, int tokens, MoeRouting routing, bool selectionBias = false)
    {
        var topK = routing.ExpertsPerToken;
        var ids = new int[tokens * topK];
        var weights = new double[tokens * topK];
        var margin = double.MaxValue;
        for (var t = 0; t < tokens; t++)
        {
            var logits = new double[Experts];
            for (var e = 0; e < Experts; e++)
            {
                for (var k = 0; k < Hidden; k++)
                {
                    logits[e] += (double)Router[(e * Hidden) + k] * x[(t * Hidden) + k];
                }
            }

            double[] prob = routing.Gating switch
            {
                MoeGating.Softmax => Softmax(logits),
                MoeGating.Sigmoid => logits.Select(l => 1 / (1 + Math.Exp(-l))).ToArray(),
                _ => logits,
            };
            var score = prob.Select((p, e) => p + (selectionBias ? SelectionBias[e] : 0)).ToArray();
            var order = Enumerable.Range(0, Experts).OrderByDescending(e => score[e]).ToArray();
            margin = Math.Min(margin, score[order[topK - 1]] - score[order[topK]]);
            var sel = order.Take(topK).ToArray();
            var w = sel.Select(e => prob[e]).ToArray();
            if (routing.Gating == MoeGating.SoftmaxOverSelected)
            {
                w = Softmax(w);
            }

            if (routing.NormalizeWeights)
            {
                var sum = Math.Max(w.Sum(), 6.103515625e-5);
                w = w.Select(v => v / sum).ToArray();
            }

            if (routing.WeightScale != 0 && routing.WeightScale != 1)
            {
                w = w.Select(v => v * routing.WeightScale).ToArray();
            }

            sel.CopyTo(ids, t * topK);
            w.CopyTo(weights, t * topK);
        }

        return (ids, weights, margin);
    }

    /// <summary>Normalized mean squared error Σ(a-e)²/Σe².</summary>
    public static double Nmse(double[] expected, float[] actual)
    {
        double num = 0, den = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }

        return num / den;
    }

    private static double OaiSwiglu(double g, double u)
    {
        var xg = Math.Min(g, 7.0);
        var yu = Math.Clamp(u, -7.0, 7.0);
        return xg / (1 + Math.Exp(-1.702 * xg)) * (yu + 1);
    }

    private static double[] Softmax(double[] v)
    {
        var m = v.Max();
        var e = v.Select(x => Math.Exp(x - m)).ToArray();
        var s = e.Sum();
        return e.Select(x => x / s).ToArray();
    }

    // A copy owned by the view, so the layer (and an executor, which keeps it reachable) never depends on this object.
    private static WeightBytes Bytes(byte[] data) => WeightBytes.FromArray(data);

    private static byte[] Pinned(byte[] data)
    {
        var p = GC.AllocateArray<byte>(data.Length, pinned: true);
        data.CopyTo(p, 0);
        return p;
    }
}
