namespace Ferrum.Moe;

/// <summary>
/// Turns one token's router logits into K expert ids and weights, as llama.cpp's build_moe_ffn does.
/// <para>Ties in the top-K go to the smaller expert index. Non-finite logits: a NaN logit is an error
/// (<see cref="InvalidOperationException"/> naming the token and expert); +∞ logits share the whole probability mass
/// equally and every finite logit gets 0; −∞ gives probability 0 (sigmoid: 0 and 1 as the limits).</para>
/// </summary>
public static unsafe class MoeRouter
{
    /// <summary>
    /// Routes one token. <paramref name="scratch"/> must hold 2×ExpertCount floats. <paramref name="selectionBias"/>
    /// (DeepSeek-V3 exp_probs_b, may be null) is added to the probabilities for the selection only.
    /// </summary>
    public static void Route(MoeRouting r, float* logits, float* selectionBias, int* ids, float* weights, float* scratch, int token = 0)
    {
        int n = r.ExpertCount, k = r.ExpertsPerToken;
        for (int e = 0; e < n; e++)
        {
            if (float.IsNaN(logits[e]))
            {
                throw new InvalidOperationException($"MoE router: logit of expert {e} is NaN for token {token}");
            }
        }

        float* probs = scratch;
        float* sel = scratch + n;
        switch (r.Gating)
        {
            case MoeGating.Softmax:
                Softmax(logits, probs, n);
                break;
            case MoeGating.Sigmoid:
                for (int e = 0; e < n; e++)
                {
                    probs[e] = 1f / (1f + MathF.Exp(-logits[e]));
                }

                break;
            case MoeGating.SoftmaxOverSelected:
                for (int e = 0; e < n; e++)
                {
                    probs[e] = logits[e];
                }

                break;
            default:
                throw new NotSupportedException($"gating {r.Gating}");
        }

        for (int e = 0; e < n; e++)
        {
            sel[e] = selectionBias != null ? probs[e] + selectionBias[e] : probs[e];
        }

        if (r.ExpertGroupCount > 1 && r.ExpertGroupsUsed < r.ExpertGroupCount)
        {
            MaskGroups(r, sel);
        }

        TopK(sel, n, k, ids);
        for (int i = 0; i < k; i++)
        {
            weights[i] = probs[ids[i]];
        }

        if (r.Gating == MoeGating.SoftmaxOverSelected)
        {
            Softmax(weights, weights, k);
        }

        if (r.NormalizeWeights)
        {
            float sum = 0;
            for (int i = 0; i < k; i++)
            {
                sum += weights[i];
            }

            float div = MathF.Max(sum, MoeRouting.MinWeightSum);
            for (int i = 0; i < k; i++)
            {
                weights[i] /= div;
            }
        }

        if (r.WeightScale != 0f && r.WeightScale != 1f)
        {
            for (int i = 0; i < k; i++)
            {
                weights[i] *= r.WeightScale;
            }
        }
    }

    /// <summary>Numerically stable softmax; +∞ inputs share the mass equally, −∞ inputs get 0.</summary>
    public static void Softmax(float* x, float* y, int n)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < n; i++)
        {
            max = MathF.Max(max, x[i]);
        }

        if (float.IsPositiveInfinity(max) || float.IsNegativeInfinity(max))
        {
            // All −∞ (no information): uniform; some +∞: uniform over those.
            int count = 0;
            for (int i = 0; i < n; i++)
            {
                count += x[i] == max ? 1 : 0;
            }

            for (int i = 0; i < n; i++)
            {
                y[i] = x[i] == max ? 1f / count : 0f;
            }

            return;
        }

        float sum = 0;
        for (int i = 0; i < n; i++)
        {
            float v = MathF.Exp(x[i] - max);
            y[i] = v;
            sum += v;
        }

        float inv = 1f / sum;
        for (int i = 0; i < n; i++)
        {
            y[i] *= inv;
        }
    }

    /// <summary>Indices of the k largest values, largest first; equal values keep the smaller index first.</summary>
    public static void TopK(float* v, int n, int k, int* ids)
    {
        int count = 0;
        for (int e = 0; e < n; e++)
        {
            float x = v[e];
            if (count == k && !(x > v[ids[k - 1]]))
            {
                continue;
            }

            int pos = count < k ? count++ : k - 1;
            while (pos > 0 && x > v[ids[pos - 1]])
            {
                ids[pos] = ids[pos - 1];
                pos--;
            }

            ids[pos] = e;
        }
    }

    // DeepSeek-V3 group-limited routing: a group's score is the sum of its two best selection scores; experts
    // outside the best ExpertGroupsUsed groups are excluded (set to −∞) before the top-K.
    private static void MaskGroups(MoeRouting r, float* sel)
    {
        int groups = r.ExpertGroupCount, per = r.ExpertCount / groups;
        if (r.ExpertCount % groups != 0)
        {
            throw new InvalidOperationException($"MoE router: {r.ExpertCount} experts do not split into {groups} groups");
        }

        float* score = stackalloc float[groups];
        for (int g = 0; g < groups; g++)
        {
            float a = float.NegativeInfinity, b = float.NegativeInfinity;
            for (int i = 0; i < per; i++)
            {
                float x = sel[g * per + i];
                if (x > a)
                {
                    b = a;
                    a = x;
                }
                else if (x > b)
                {
                    b = x;
                }
            }

            score[g] = per >= 2 ? a + b : a;
        }

        int* keep = stackalloc int[r.ExpertGroupsUsed];
        TopK(score, groups, r.ExpertGroupsUsed, keep);
        for (int g = 0; g < groups; g++)
        {
            bool kept = false;
            for (int i = 0; i < r.ExpertGroupsUsed; i++)
            {
                kept |= keep[i] == g;
            }

            if (!kept)
            {
                for (int i = 0; i < per; i++)
                {
                    sel[g * per + i] = float.NegativeInfinity;
                }
            }
        }
    }
}
