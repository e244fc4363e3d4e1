using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Sample.Demo;

/// <summary>
/// The exact reference for one token of one MoE block: weights decoded with the scalar reference dequantizer
/// (bit-identical to ggml's to_float), activations kept in float, dot products accumulated in double. No
/// activation quantization, so the fast kernels' distance from it is the Q8 activation rounding plus summation order.
/// </summary>
public static unsafe class ReferenceMoe
{
    /// <summary>Computes the block output for one token <paramref name="x"/> (hidden floats) into <paramref name="y"/>.</summary>
    public static void Forward(MoeLayer w, ReadOnlySpan<float> x, Span<float> y)
    {
        var routing = w.Routing;
        int hidden = w.Hidden, experts = routing.ExpertCount, k = routing.ExpertsPerToken;
        var logits = new float[experts];
        MatVec(w.Router, 0, x, logits);
        AddBias(w.RouterBias, 0, logits);

        var ids = new int[k];
        var weights = new float[k];
        var scratch = new float[2 * experts];
        fixed (float* l = logits, wt = weights, s = scratch)
        fixed (int* id = ids)
        {
            MoeRouter.Route(routing, l, Floats(w.SelectionBias), id, wt, s);
        }

        var acc = new double[hidden];
        for (var slot = 0; slot < k; slot++)
        {
            var e = ids[slot];
            var h = Expert(w.Gate, w.Up, w.Down, e, routing, x, Floats(w.GateBias), Floats(w.UpBias), Floats(w.DownBias));
            for (var i = 0; i < hidden; i++)
            {
                acc[i] += weights[slot] * h[i];
            }
        }

        if (w.SharedGate != null)
        {
            var scale = 1.0;
            if (w.SharedGateInput != null)
            {
                var gate = new float[1];
                MatVec(w.SharedGateInput, 0, x, gate);
                scale = 1.0 / (1.0 + Math.Exp(-gate[0]));
            }

            var h = Expert(w.SharedGate, w.SharedUp!, w.SharedDown!, 0, routing, x, null, null, null);
            for (var i = 0; i < hidden; i++)
            {
                acc[i] += scale * h[i];
            }
        }

        for (var i = 0; i < hidden; i++)
        {
            y[i] = (float)acc[i];
        }
    }

    private static float[] Expert(ExpertStack gate, ExpertStack up, ExpertStack down, int e, MoeRouting routing, ReadOnlySpan<float> x, float* gateBias, float* upBias, float* downBias)
    {
        int ffn = gate.Rows, hidden = down.Rows;
        var g = new float[ffn];
        var u = new float[ffn];
        MatVec(gate, e, x, g);
        MatVec(up, e, x, u);
        var h = new float[ffn];
        for (var r = 0; r < ffn; r++)
        {
            double gv = g[r] + (gateBias != null ? gateBias[((long)e * ffn) + r] : 0f);
            double uv = u[r] + (upBias != null ? upBias[((long)e * ffn) + r] : 0f);
            h[r] = (float)Activation(routing, gv, uv);
        }

        var y = new float[hidden];
        MatVec(down, e, h, y);
        if (downBias != null)
        {
            for (var r = 0; r < hidden; r++)
            {
                y[r] += downBias[((long)e * hidden) + r];
            }
        }

        return y;
    }

    private static double Activation(MoeRouting routing, double g, double u)
    {
        if (routing.Activation == MoeActivation.SwigluOai)
        {
            var xg = Math.Min(g, routing.OaiLimit);
            var yu = Math.Clamp(u, -routing.OaiLimit, routing.OaiLimit);
            return xg / (1.0 + Math.Exp(-routing.OaiAlpha * xg)) * (yu + 1.0);
        }

        return g / (1.0 + Math.Exp(-g)) * u;
    }

    /// <summary>y = W_e · x with every row decoded by the reference dequantizer and summed in double.</summary>
    internal static void MatVec(ExpertStack m, int expert, ReadOnlySpan<float> x, Span<float> y)
    {
        var row = new float[m.RowLength];
        for (var r = 0; r < m.Rows; r++)
        {
            Dequantizer.Dequantize(m.Format, m.Row(expert, r), row);
            var sum = 0.0;
            for (var i = 0; i < row.Length; i++)
            {
                sum += (double)row[i] * x[i];
            }

            y[r] = (float)sum;
        }
    }

    /// <summary>The f32 values of a bias stack, or null.</summary>
    internal static float* Floats(ExpertStack? bias) => bias == null ? null : (float*)bias.ExpertPointer(0);

    /// <summary>Adds expert <paramref name="expert"/>'s row of <paramref name="bias"/> (when present) to <paramref name="y"/>.</summary>
    internal static void AddBias(ExpertStack? bias, int expert, Span<float> y)
    {
        if (bias != null)
        {
            var b = bias.ExpertPointer(expert);
            for (var i = 0; i < y.Length; i++)
            {
                y[i] += ((float*)b)[i];
            }
        }
    }
}
