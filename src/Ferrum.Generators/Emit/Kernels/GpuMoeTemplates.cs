using System;
using System.Collections.Generic;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// MoE kernels written once for OpenCL C and MSL: the template text names what differs through placeholders that a
/// <see cref="GpuDialect"/> fills (<c>{G}</c> device memory, <c>{L}</c> work-group memory, <c>{SIZE}</c> the offset
/// type, <c>{BARRIER}</c>, <c>{THREADS}</c> the routing work-group size, <c>{ROUTE_HEAD}</c>, <c>{ROUTE_PROLOGUE}</c> and
/// the like the kernels' signatures and the binding of their plain names). Both printers append
/// <see cref="FormatIndependent"/>'s rendering: routing, grouping (ggml's map0) and combine. The format kernels'
/// templates (<see cref="GpuFormatTemplates"/>) use the same placeholders and <see cref="Render"/>.
/// </summary>
internal static class GpuMoeTemplates
{
    /// <summary>Every placeholder of the shared templates, each filled by one <see cref="GpuDialect"/> member.</summary>
    public static IReadOnlyList<(string Placeholder, Func<GpuDialect, string> Value)> Placeholders { get; } =
    [
        ("{ROUTE_HEAD}", d => d.RouteHead),
        ("{ROUTE_PROLOGUE}", d => d.RoutePrologue),
        ("{GROUP_HEAD}", d => d.GroupHead),
        ("{GROUP_PROLOGUE}", d => d.GroupPrologue),
        ("{COMBINE_HEAD}", d => d.CombineHead),
        ("{COMBINE_PROLOGUE}", d => d.CombinePrologue),
        ("{DEQUANT_HEAD}", d => d.DequantHead),
        ("{DEQUANT_PROLOGUE}", d => d.DequantPrologue),
        ("{GATE_UP_VEC_HEAD}", d => d.GateUpVecHead),
        ("{GATE_UP_VEC_PROLOGUE}", d => d.GateUpVecPrologue),
        ("{DOWN_VEC_HEAD}", d => d.DownVecHead),
        ("{DOWN_VEC_PROLOGUE}", d => d.DownVecPrologue),
        ("{GATE_UP_TILE_HEAD}", d => d.GateUpTileHead),
        ("{GATE_UP_TILE_PROLOGUE}", d => d.GateUpTilePrologue),
        ("{DOWN_TILE_HEAD}", d => d.DownTileHead),
        ("{DOWN_TILE_PROLOGUE}", d => d.DownTilePrologue),
        ("{DENSE_HEAD}", d => d.DenseHead),
        ("{DENSE_PROLOGUE}", d => d.DensePrologue),
        ("{ROW_SUM}", d => d.RowSum),
        ("{ROW_SCRATCH}", d => d.RowScratch),
        ("{TPR_DEFAULT}", d => d.ThreadsPerRowDefault),
        ("{INLINE}", d => d.Inline),
        ("{G}", d => d.Global),
        ("{L}", d => d.Local),
        ("{SIZE}", d => d.Size),
        ("{BARRIER}", d => d.Barrier),
        ("{THREADS}", d => d.RouteThreads),
        ("{AS_UINT}", d => d.AsUint),
    ];

    /// <summary>The shared templates (the dequantization one still holds <c>{F}</c>, the format's name).</summary>
    public static IReadOnlyList<string> All { get; } = [RouteTemplate, GroupTemplate, CombineTemplate, DequantTemplate];

    /// <summary>The dequantization kernel of format <paramref name="format"/> in <paramref name="dialect"/>.</summary>
    public static string Dequant(GpuDialect dialect, string format) => Render(DequantTemplate, dialect).Replace("{F}", format);

    /// <summary>The routing, grouping and combine kernels in <paramref name="dialect"/>.</summary>
    public static string FormatIndependent(GpuDialect dialect) =>
        Render(RouteTemplate, dialect) + Render(GroupTemplate, dialect) + Render(CombineTemplate, dialect);

    /// <summary>Fills every placeholder of <paramref name="template"/> from <paramref name="dialect"/>.</summary>
    public static string Render(string template, GpuDialect dialect)
    {
        var s = template;
        foreach (var (placeholder, value) in Placeholders)
        {
            s = s.Replace(placeholder, value(dialect));
        }

        return s;
    }

    /// <summary>
    /// Routing, one work-group per token (grid: n_tokens groups of {THREADS}): router logits (F32 router
    /// [n_experts][h], plus the router bias when has_router_bias), one expert per thread; then thread 0 alone:
    /// gating, top-k on prob (+ selection bias) with ties to the smaller expert index, limited to the best
    /// groups_used of n_groups expert groups when groups_used &lt; n_groups, weights, renormalization and scale.
    /// </summary>
    public const string RouteTemplate = """
        // Gating functions (llama-hparams.h llama_expert_gating_func_type).
        #define FERRUM_GATING_SOFTMAX 1
        #define FERRUM_GATING_SIGMOID 2
        #define FERRUM_GATING_SOFTMAX_WEIGHT 3

        // Routing (one template for OpenCL C and MSL), one work-group per token: router logits (F32 router
        // [n_experts][h], plus the router bias when has_router_bias), one expert per thread; then thread 0 alone:
        // gating, top-k on prob (+ selection bias when has_selection_bias) with ties to the smaller expert index,
        // limited to the best groups_used of n_groups expert groups when groups_used < n_groups (a group scores the
        // sum of its two best selection scores), weights = prob of the selected experts (SOFTMAX_WEIGHT: softmax over
        // the selected logits), optional renormalization (sum clamped to 6.103515625e-5 as ggml does) and scale
        // (applied when not 0 and not 1). shared_w[t] = sigmoid(shexp_inp . x) when has_shexp_inp (qwen2moe's gated
        // shared expert), else 1. A slot that finds no expert left (topk > n_experts) gets id -1 and weight NaN.
        // NaN and ±inf propagate (the CPU executor's rule): a token whose input holds a NaN or ±inf, or whose router
        // logits hold a NaN, gets ids 0 .. n_sel-1 (valid, so grouping stays in bounds), NaN weights and a NaN
        // shared_w, so its whole output row is NaN whatever the weight format. The checks read the float's bits:
        // fast-math compilers (Metal's default) may fold isnan/isinf away.
        {ROUTE_HEAD}
        {
            {L} float logit[FERRUM_MAX_EXPERTS];
            {L} float prob[FERRUM_MAX_EXPERTS];
            {L} uchar taken[FERRUM_MAX_EXPERTS];
            {L} uchar nonfinite[{THREADS}];
        {ROUTE_PROLOGUE}
            const int n_e = min(n_experts, FERRUM_MAX_EXPERTS);
            const int n_sel = min(topk, FERRUM_MAX_TOPK);
            const {G} float* xt = x + ({SIZE})t * h;
            uchar bad = 0;
            for (int k = lid; k < h; k += {THREADS})
            {
                bad |= ({AS_UINT}(xt[k]) & 0x7f800000u) == 0x7f800000u ? 1 : 0;
            }
            nonfinite[lid] = bad;
            for (int e = lid; e < n_e; e += {THREADS})
            {
                const {G} float* w = router + ({SIZE})e * h;
                float acc = has_router_bias ? router_bias[e] : 0.0f;
                for (int k = 0; k < h; k++)
                {
                    acc += w[k] * xt[k];
                }
                logit[e] = acc;
                taken[e] = 0;
            }
            float g = 0.0f;
            if (lid == {THREADS} - 1 && has_shexp_inp)
            {
                for (int k = 0; k < h; k++)
                {
                    g += shexp_inp[k] * xt[k];
                }
            }
            {BARRIER};
            if (lid != 0 && lid != {THREADS} - 1)
            {
                return;
            }
            // Threads 0 and {THREADS}-1 both decide whether the token is poisoned (no second barrier needed).
            uchar poisoned = 0;
            for (int i = 0; i < {THREADS}; i++)
            {
                poisoned |= nonfinite[i];
            }
            for (int e = 0; e < n_e; e++)
            {
                poisoned |= ({AS_UINT}(logit[e]) & 0x7fffffffu) > 0x7f800000u ? 1 : 0;
            }
            if (lid == {THREADS} - 1)
            {
                if (poisoned)
                {
                    shared_w[t] = NAN;
                }
                else
                {
                    shared_w[t] = has_shexp_inp ? 1.0f / (1.0f + exp(-g)) : 1.0f;
                }
            }
            if (lid != 0)
            {
                return;
            }
            if (poisoned)
            {
                for (int j = 0; j < n_sel; j++)
                {
                    ids[({SIZE})t * topk + j] = j;
                    weights[({SIZE})t * topk + j] = NAN;
                }
                return;
            }
            if (gating == FERRUM_GATING_SOFTMAX)
            {
                float m = -INFINITY;
                for (int e = 0; e < n_e; e++)
                {
                    m = fmax(m, logit[e]);
                }
                float sum = 0.0f;
                for (int e = 0; e < n_e; e++)
                {
                    prob[e] = exp(logit[e] - m);
                    sum += prob[e];
                }
                for (int e = 0; e < n_e; e++)
                {
                    prob[e] /= sum;
                }
            }
            else if (gating == FERRUM_GATING_SIGMOID)
            {
                for (int e = 0; e < n_e; e++)
                {
                    prob[e] = 1.0f / (1.0f + exp(-logit[e]));
                }
            }
            else
            {
                for (int e = 0; e < n_e; e++)
                {
                    prob[e] = logit[e];
                }
            }
            // Selection scores replace the logits, which are no longer needed.
            for (int e = 0; e < n_e; e++)
            {
                logit[e] = has_selection_bias ? prob[e] + selection_bias[e] : prob[e];
            }
            if (n_groups > 1 && groups_used < n_groups && n_groups <= n_e)
            {
                // Group-limited selection: experts outside the best groups_used groups (ties to the smaller group)
                // leave the race; taken[] doubles as the mask.
                const int per = n_e / n_groups;
                uchar keep[FERRUM_MAX_EXPERTS];
                for (int g = 0; g < n_groups; g++)
                {
                    keep[g] = 0;
                }
                for (int j = 0; j < groups_used; j++)
                {
                    int best_g = -1;
                    float best_gs = 0.0f;
                    for (int g = 0; g < n_groups; g++)
                    {
                        float a = -INFINITY;
                        float b = -INFINITY;
                        for (int i = 0; i < per; i++)
                        {
                            const float v = logit[g * per + i];
                            if (v > a)
                            {
                                b = a;
                                a = v;
                            }
                            else if (v > b)
                            {
                                b = v;
                            }
                        }
                        const float gs = per >= 2 ? a + b : a;
                        if (!keep[g] && (best_g < 0 || gs > best_gs))
                        {
                            best_g = g;
                            best_gs = gs;
                        }
                    }
                    keep[best_g] = 1;
                }
                for (int e = 0; e < n_e; e++)
                {
                    taken[e] = keep[e / per] ? 0 : 1;
                }
            }
            int sel[FERRUM_MAX_TOPK];
            float w[FERRUM_MAX_TOPK];
            for (int j = 0; j < n_sel; j++)
            {
                int best = -1;
                float best_score = 0.0f;
                for (int e = 0; e < n_e; e++)
                {
                    const float score = logit[e];
                    if (!taken[e] && (best < 0 || score > best_score))
                    {
                        best = e;
                        best_score = score;
                    }
                }
                if (best >= 0)
                {
                    taken[best] = 1;
                }
                sel[j] = best;
                w[j] = best >= 0 ? prob[best] : NAN;
            }
            if (gating == FERRUM_GATING_SOFTMAX_WEIGHT)
            {
                float m = -INFINITY;
                for (int j = 0; j < n_sel; j++)
                {
                    m = fmax(m, w[j]);
                }
                float sum = 0.0f;
                for (int j = 0; j < n_sel; j++)
                {
                    w[j] = exp(w[j] - m);
                    sum += w[j];
                }
                for (int j = 0; j < n_sel; j++)
                {
                    w[j] /= sum;
                }
            }
            if (norm)
            {
                float sum = 0.0f;
                for (int j = 0; j < n_sel; j++)
                {
                    sum += w[j];
                }
                sum = fmax(sum, 6.103515625e-5f);
                for (int j = 0; j < n_sel; j++)
                {
                    w[j] /= sum;
                }
            }
            const int scaled = scale != 0.0f && scale != 1.0f;
            for (int j = 0; j < n_sel; j++)
            {
                ids[({SIZE})t * topk + j] = sel[j];
                weights[({SIZE})t * topk + j] = scaled ? w[j] * scale : w[j];
            }
        }

        """;

    /// <summary>Groups (token, slot) pairs by expert (ggml's map0), one thread per expert.</summary>
    public const string GroupTemplate = """
        // Groups (token, slot) pairs by expert (ggml's map0): lists[e][0 .. counts[e]) = pair indices in order.
        // One thread per expert: n_experts threads in all.
        {GROUP_HEAD}
        {
        {GROUP_PROLOGUE}
            if (e >= n_experts)
            {
                return;
            }
            int c = 0;
            for (int p = 0; p < n_pairs; p++)
            {
                if (ids[p] == e && c < max_per_expert)
                {
                    lists[({SIZE})e * max_per_expert + c] = p;
                    c++;
                }
            }
            counts[e] = c;
        }

        """;

    /// <summary>out[t][h] = sum over slots of y[t·topk + slot][h], one thread per output element.</summary>
    public const string CombineTemplate = """
        // out[t][h] = sum over slots of y[t*topk + slot][h] (prefill: the tile kernels already applied the weights).
        // Grid (h, n_tokens) threads.
        {COMBINE_HEAD}
        {
        {COMBINE_PROLOGUE}
            if (hh >= h || t >= n_tokens)
            {
                return;
            }
            float acc = 0.0f;
            for (int k = 0; k < topk; k++)
            {
                acc += y[(({SIZE})t * topk + k) * h + hh];
            }
            out[({SIZE})t * h + hh] = acc;
        }

        """;

    /// <summary>Plain dequantization through the format's <c>ferrum_decode_{F}</c>, one thread per element.</summary>
    public const string DequantTemplate = """

        // Dequantizes n elements (a multiple of QK) of src: one thread per element.
        {DEQUANT_HEAD}
        {
        {DEQUANT_PROLOGUE}
            if (k < n)
            {
                dst[k] = ferrum_decode_{F}(src, k);
            }
        }

        """;
}
