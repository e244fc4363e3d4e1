namespace Ferrum.Runtime.Tests.Moe;

/// <summary>
/// An independent, double-precision statement of llama.cpp's build_moe_ffn routing for the tests (sorting, not
/// the runtime's insertion top-K): probabilities, selection with a bias, top-K with ties to the smaller index,
/// renormalization with the 2^-14 floor, scaling.
/// </summary>
internal static class ReferenceRouting
{
    public static (int[] Ids, double[] Weights) Route(double[] logits, string gating, int k, bool norm, double scale, double[]? selectionBias = null, int groups = 0, int groupsUsed = 0)
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
        if (groups > 1 && groupsUsed < groups)
        {
            // DeepSeek-V3: a group scores the sum of its two best selection scores; only the best groupsUsed groups
            // (ties to the smaller group) stay in the race.
            int per = n / groups;
            var score = Enumerable.Range(0, groups).Select(g => sel.Skip(g * per).Take(per).OrderByDescending(v => v).Take(2).Sum()).ToArray();
            var kept = Enumerable.Range(0, groups).OrderByDescending(g => score[g]).ThenBy(g => g).Take(groupsUsed).ToHashSet();
            for (int i = 0; i < n; i++)
            {
                if (!kept.Contains(i / per))
                {
                    sel[i] = double.NegativeInfinity;
                }
            }
        }

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
