namespace Ferrum.Runtime.Tests.Moe;

/// <summary>
/// An independent, double-precision statement of llama.cpp's build_moe_ffn routing for the tests (sorting, not
/// the runtime's insertion top-K): probabilities, selection with a bias, top-K with ties to the smaller index,
/// renormalization with the 2^-14 floor, scaling.
/// </summary>
internal static class ReferenceRouting
{
    public static (int[] Ids, double[] Weights) Route(double[] logits, string gating, int k, bool norm, double scale, double[]? selectionBias = null)
    {
        int n = logits.Length;
        double[] probs = gating switch
        {
            "softmax" => Softmax(logits),
            "sigmoid" => logits.Select(l => 1 / (1 + Math.Exp(-l))).ToArray(),
            "softmax_selected" => (double[])logits.Clone(),
            _ => throw new ArgumentException(gating),
        };
        var sel = probs.Select((p, i) => p + (selectionBias?[i] ?? 0)).ToArray();
        var ids = Enumerable.Range(0, n).OrderByDescending(i => sel[i]).ThenBy(i => i).Take(k).ToArray();
        var w = ids.Select(i => probs[i]).ToArray();
        if (gating == "softmax_selected")
        {
            w = Softmax(w);
        }

        if (norm)
        {
            double s = Math.Max(w.Sum(), 6.103515625e-5);
            w = w.Select(x => x / s).ToArray();
        }

        if (scale != 0 && scale != 1)
        {
            w = w.Select(x => x * scale).ToArray();
        }

        return (ids, w);
    }

    public static double[] Softmax(double[] x)
    {
        double m = x.Max();
        var e = x.Select(v => Math.Exp(v - m)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }
}
