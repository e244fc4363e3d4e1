namespace Ferrum.Generators.Emit.Metal;

/// <summary>
/// The format-independent MSL text of the MoE programs. <c>{F}</c> is replaced by the format name; the format's
/// decode helpers (<c>ferrum_unit_dot_{F}</c>, <c>ferrum_decode8_{F}</c>, <c>ferrum_decode_{F}</c>) are printed from
/// its description by <see cref="MetalMoePrinter"/>.
/// </summary>
internal static class MetalMoeTemplates
{
    /// <summary>Include and the argument struct every kernel binds at index 0.</summary>
    public const string Prologue = """
        #include <metal_stdlib>
        using namespace metal;

        // Every kernel binds this at buffer index 0 (setBytes). Same layout as Ferrum.Backends.Metal.MetalMoeArgs.
        struct ferrum_moe_args
        {
            ulong stride_gate_up;   // bytes from one expert to the next in the gate and up stacks
            ulong stride_down;      // bytes from one expert to the next in the down stack
            ulong stride_mv;        // kernel_moe_mv_id: bytes between experts of its weight stack
            int h;                  // hidden size (gate/up row length, down rows)
            int f;                  // expert FFN size (gate/up rows, down row length)
            int n_experts;
            int topk;
            int n_tokens;
            int max_per_expert;     // capacity of each expert's list (prefill grouping)
            int rows;               // rows of the weight matrix a launch reads (gate/up: f, down: h), generic programs
            int k;                  // its row length (gate/up: h, down: f); kernel_moe_dequant: element count
            int gating;             // 1 softmax, 2 sigmoid, 3 softmax over the selected logits
            int norm;               // renormalize the selected weights
            float scale;            // weight scale, applied when not 0 and not 1
            int has_router_bias;    // add router_bias to the logits (gpt-oss)
            int has_selection_bias; // add selection_bias for the top-k choice only (DeepSeek-V3 exp_probs_b)
            int n_groups;           // expert groups (DeepSeek-V3 n_expert_groups); selection limited when groups_used < n_groups
            int groups_used;        // groups kept (n_group_used)
            int has_expert_bias;    // add gate_bias and up_bias before the activation (gpt-oss)
            int has_down_bias;      // add down_bias to each expert's down output (gpt-oss)
            int has_shexp_inp;      // kernel_moe_route: shared_w[t] = sigmoid(shexp_inp . x) (qwen2moe), else 1
            int accumulate;         // kernel_moe_mv_id_down: add onto out (the shared expert after the routed ones)
            int reserved;
        };
        static_assert(sizeof(ferrum_moe_args) == 104, "ferrum_moe_args must match the host struct");


        """;

    /// <summary>Geometry defaults of the format programs (the host prepends its own #defines and sizes grids from them).</summary>
    public const string Geometry = """
        // Threadgroup geometry of the mat-vec kernels; the host prepends its own #defines and sizes the grid from them.
        #ifndef FERRUM_NR0
        #define FERRUM_NR0 2
        #endif
        #ifndef FERRUM_NSG
        #define FERRUM_NSG 2
        #endif
        // Activation: 0 = SiLU(gate)*up, 1 = gpt-oss clamped swiglu.
        #ifndef FERRUM_ACT_OAI
        #define FERRUM_ACT_OAI 0
        #endif
        constant constexpr int NR0 = FERRUM_NR0;   // rows per simdgroup
        constant constexpr int NSG = FERRUM_NSG;   // simdgroups per threadgroup
        constant constexpr int TILE = 32;          // prefill tile: weight rows = routed tokens = K step


        """;

    /// <summary>The gated activation (both variants, chosen by FERRUM_ACT_OAI).</summary>
    public const string Activation = """

        static inline float ferrum_act(const float g, const float u)
        {
        #if FERRUM_ACT_OAI
            const float xg = fmin(g, 7.0f);
            const float yu = clamp(u, -7.0f, 7.0f);
            return xg / (1.0f + exp(-1.702f * xg)) * (yu + 1.0f);
        #else
            return g / (1.0f + exp(-g)) * u;
        #endif
        }


        """;

    /// <summary>The kernels of one format.</summary>
    public const string FormatKernels = """
        // ggml mul_mv_id: dst[pair][row] = w_e[row] . x[token]; grid (ceil(rows / (NR0*NSG)), 1, n_tokens*topk),
        // threadgroup 32*NSG. Lane l takes units l, l+32, ... of the row; a bad id gives NaN rows.
        kernel void kernel_moe_mv_id_{F}(
            constant ferrum_moe_args& args [[buffer(0)]],
            device const uchar* w [[buffer(1)]],
            device const float* x [[buffer(2)]],
            device const int* ids [[buffer(3)]],
            device float* dst [[buffer(4)]],
            uint3 tgpig [[threadgroup_position_in_grid]],
            ushort tiisg [[thread_index_in_simdgroup]],
            ushort sgitg [[simdgroup_index_in_threadgroup]])
        {
            const int pair = (int)tgpig.z;
            const int t = pair / N_TOPK;
            const int id = ids[pair];
            const bool ok = (uint)id < (uint)N_E;
            const int e = ok ? id : 0;
            const int r0 = ((int)tgpig.x * NSG + (int)sgitg) * NR0;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            device const uchar* base = w + (ulong)e * args.stride_mv;
            device const float* xt = x + (ulong)t * N_K;
            float sum[NR0];
            for (int r = 0; r < NR0; r++)
            {
                sum[r] = 0.0f;
            }
            for (int k0 = (int)tiisg * UNIT; k0 < N_K; k0 += 32 * UNIT)
            {
                float xl[UNIT];
                float sx = 0.0f;
                for (int j = 0; j < UNIT; j++)
                {
                    xl[j] = xt[k0 + j];
                    sx += xl[j];
                }
                for (int r = 0; r < NR0; r++)
                {
                    const int row = min(r0 + r, N_ROWS - 1);
                    sum[r] += ferrum_unit_dot_{F}(base + (ulong)row * row_bytes, k0, xl, sx);
                }
            }
            for (int r = 0; r < NR0; r++)
            {
                const float v = simd_sum(sum[r]);
                if (tiisg == 0 && r0 + r < N_ROWS)
                {
                    dst[(ulong)pair * N_ROWS + r0 + r] = ok ? v : NAN;
                }
            }
        }

        // Fused gate||up for every (token, slot) pair (N_ROWS = F, N_K = H): grid (ceil(F / (NR0*NSG)), 1, n_tokens*topk),
        // threadgroup 32*NSG; act[pair][row] = act(gate_e[row] . x[token], up_e[row] . x[token]). x is read once for both.
        kernel void kernel_moe_mv_id_gate_up_{F}(
            constant ferrum_moe_args& args [[buffer(0)]],
            device const uchar* gate [[buffer(1)]],
            device const uchar* up [[buffer(2)]],
            device const float* x [[buffer(3)]],
            device const int* ids [[buffer(4)]],
            device float* act [[buffer(5)]],
            device const float* gate_bias [[buffer(6)]],
            device const float* up_bias [[buffer(7)]],
            uint3 tgpig [[threadgroup_position_in_grid]],
            ushort tiisg [[thread_index_in_simdgroup]],
            ushort sgitg [[simdgroup_index_in_threadgroup]])
        {
            const int pair = (int)tgpig.z;
            const int t = pair / N_TOPK;
            const int id = ids[pair];
            const bool ok = (uint)id < (uint)N_E;
            const int e = ok ? id : 0;
            const int r0 = ((int)tgpig.x * NSG + (int)sgitg) * NR0;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            device const uchar* gbase = gate + (ulong)e * args.stride_gate_up;
            device const uchar* ubase = up + (ulong)e * args.stride_gate_up;
            device const float* xt = x + (ulong)t * N_K;
            float g[NR0];
            float u[NR0];
            for (int r = 0; r < NR0; r++)
            {
                g[r] = 0.0f;
                u[r] = 0.0f;
            }
            for (int k0 = (int)tiisg * UNIT; k0 < N_K; k0 += 32 * UNIT)
            {
                float xl[UNIT];
                float sx = 0.0f;
                for (int j = 0; j < UNIT; j++)
                {
                    xl[j] = xt[k0 + j];
                    sx += xl[j];
                }
                for (int r = 0; r < NR0; r++)
                {
                    const ulong off = (ulong)min(r0 + r, N_ROWS - 1) * row_bytes;
                    g[r] += ferrum_unit_dot_{F}(gbase + off, k0, xl, sx);
                    u[r] += ferrum_unit_dot_{F}(ubase + off, k0, xl, sx);
                }
            }
            for (int r = 0; r < NR0; r++)
            {
                const float gs = simd_sum(g[r]);
                const float us = simd_sum(u[r]);
                if (tiisg == 0 && r0 + r < N_ROWS)
                {
                    const ulong b = (ulong)e * N_ROWS + r0 + r;
                    const float gb = args.has_expert_bias != 0 ? gate_bias[b] : 0.0f;
                    const float ub = args.has_expert_bias != 0 ? up_bias[b] : 0.0f;
                    act[(ulong)pair * N_ROWS + r0 + r] = ok ? ferrum_act(gs + gb, us + ub) : NAN;
                }
            }
        }

        // down + routing-weighted sum: grid (ceil(N_K / (NR0*NSG)), n_tokens, 1), threadgroup 32*NSG;
        // out[token][row] = sum over slots of weights[pair] * (down_e[row] . act[pair] + down_bias_e[row]), added onto
        // out when args.accumulate (the shared expert, run as a one-expert top-1 block after the routed ones).
        kernel void kernel_moe_mv_id_down_{F}(
            constant ferrum_moe_args& args [[buffer(0)]],
            device const uchar* down [[buffer(1)]],
            device const float* act [[buffer(2)]],
            device const int* ids [[buffer(3)]],
            device const float* weights [[buffer(4)]],
            device float* out [[buffer(5)]],
            device const float* down_bias [[buffer(6)]],
            uint3 tgpig [[threadgroup_position_in_grid]],
            ushort tiisg [[thread_index_in_simdgroup]],
            ushort sgitg [[simdgroup_index_in_threadgroup]])
        {
            const int t = (int)tgpig.y;
            const int r0 = ((int)tgpig.x * NSG + (int)sgitg) * NR0;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            float acc[NR0];
            for (int r = 0; r < NR0; r++)
            {
                acc[r] = 0.0f;
            }
            bool bad = false;
            for (int slot = 0; slot < N_TOPK; slot++)
            {
                const int pair = t * N_TOPK + slot;
                const int id = ids[pair];
                bad = bad || (uint)id >= (uint)N_E;
                const int e = (uint)id < (uint)N_E ? id : 0;
                const float wgt = weights[pair];
                device const uchar* base = down + (ulong)e * args.stride_down;
                device const float* a = act + (ulong)pair * N_K;
                float part[NR0];
                for (int r = 0; r < NR0; r++)
                {
                    part[r] = 0.0f;
                }
                for (int k0 = (int)tiisg * UNIT; k0 < N_K; k0 += 32 * UNIT)
                {
                    float xl[UNIT];
                    float sx = 0.0f;
                    for (int j = 0; j < UNIT; j++)
                    {
                        xl[j] = a[k0 + j];
                        sx += xl[j];
                    }
                    for (int r = 0; r < NR0; r++)
                    {
                        const int row = min(r0 + r, N_ROWS - 1);
                        part[r] += ferrum_unit_dot_{F}(base + (ulong)row * row_bytes, k0, xl, sx);
                    }
                }
                for (int r = 0; r < NR0; r++)
                {
                    // The bias once per row: lane 0's part, before the simd_sum.
                    const float bias = args.has_down_bias != 0 && tiisg == 0 ? down_bias[(ulong)e * N_ROWS + min(r0 + r, N_ROWS - 1)] : 0.0f;
                    acc[r] += wgt * (part[r] + bias);
                }
            }
            for (int r = 0; r < NR0; r++)
            {
                const float v = simd_sum(acc[r]);
                if (tiisg == 0 && r0 + r < N_ROWS)
                {
                    const ulong o = (ulong)t * N_ROWS + r0 + r;
                    out[o] = bad ? NAN : args.accumulate != 0 ? out[o] + v : v;
                }
            }
        }

        // Prefill gate||up, grouped by expert: grid (N_K / TILE, ceil(max tokens per expert / TILE), N_E), 128 threads.
        // A threadgroup takes expert e (tgpig.z), TILE weight rows and TILE of the pairs routed to e (lists from
        // kernel_moe_map0). Per K step each thread dequantizes 8 gate and 8 up weights and stages 8 activations; each
        // simdgroup multiplies its 8 rows by the 32 tokens on 8x8 simdgroup matrices (4 gate + 4 up accumulators).
        kernel void kernel_moe_mm_id_gate_up_{F}(
            constant ferrum_moe_args& args [[buffer(0)]],
            device const uchar* gate [[buffer(1)]],
            device const uchar* up [[buffer(2)]],
            device const float* x [[buffer(3)]],
            device const int* counts [[buffer(4)]],
            device const int* lists [[buffer(5)]],
            device float* act [[buffer(6)]],
            device const float* gate_bias [[buffer(7)]],
            device const float* up_bias [[buffer(8)]],
            uint3 tgpig [[threadgroup_position_in_grid]],
            ushort tiitg [[thread_index_in_threadgroup]],
            ushort sgitg [[simdgroup_index_in_threadgroup]])
        {
            threadgroup float wg[TILE * TILE];   // gate tile [row][k], then the gate results [row][token]
            threadgroup float wu[TILE * TILE];   // up tile, then the up results
            threadgroup float xs[TILE * TILE];   // activations [token][k]
            const int e = (int)tgpig.z;
            const int cnt = min(counts[e], args.max_per_expert);
            const int j0 = (int)tgpig.y * TILE;
            if (j0 >= cnt)
            {
                return; // uniform for the whole threadgroup: no pairs of this expert in this tile
            }
            const int r0 = (int)tgpig.x * TILE;
            const int lr = (int)tiitg / 4;         // staging: tile row (weights) and tile token (activations)
            const int lc = ((int)tiitg % 4) * 8;   // staging: first of 8 K elements
            device const int* list = lists + (ulong)e * args.max_per_expert;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            const ulong wrow = (ulong)e * args.stride_gate_up + (ulong)min(r0 + lr, N_ROWS - 1) * row_bytes;
            device const uchar* grow = gate + wrow;
            device const uchar* urow = up + wrow;
            const bool has_token = j0 + lr < cnt;
            device const float* xrow = x + (ulong)(has_token ? list[j0 + lr] / N_TOPK : 0) * N_K;
            simdgroup_float8x8 cg[4];
            simdgroup_float8x8 cu[4];
            for (int i = 0; i < 4; i++)
            {
                cg[i] = make_filled_simdgroup_matrix<float, 8>(0.0f);
                cu[i] = make_filled_simdgroup_matrix<float, 8>(0.0f);
            }
            for (int k0 = 0; k0 < N_K; k0 += TILE)
            {
                ferrum_decode8_{F}(grow, k0 + lc, wg + lr * TILE + lc);
                ferrum_decode8_{F}(urow, k0 + lc, wu + lr * TILE + lc);
                for (int j = 0; j < 8; j++)
                {
                    xs[lr * TILE + lc + j] = has_token ? xrow[k0 + lc + j] : 0.0f;
                }
                threadgroup_barrier(mem_flags::mem_threadgroup);
                for (int kk = 0; kk < TILE; kk += 8)
                {
                    simdgroup_float8x8 ag;
                    simdgroup_float8x8 au;
                    simdgroup_load(ag, wg + 8 * (int)sgitg * TILE + kk, TILE);
                    simdgroup_load(au, wu + 8 * (int)sgitg * TILE + kk, TILE);
                    for (int i = 0; i < 4; i++)
                    {
                        simdgroup_float8x8 b;
                        simdgroup_load(b, xs + 8 * i * TILE + kk, TILE, 0, true);   // transposed: [k][token]
                        simdgroup_multiply_accumulate(cg[i], ag, b, cg[i]);
                        simdgroup_multiply_accumulate(cu[i], au, b, cu[i]);
                    }
                }
                threadgroup_barrier(mem_flags::mem_threadgroup);
            }
            for (int i = 0; i < 4; i++)
            {
                simdgroup_store(cg[i], wg + 8 * (int)sgitg * TILE + 8 * i, TILE);
                simdgroup_store(cu[i], wu + 8 * (int)sgitg * TILE + 8 * i, TILE);
            }
            threadgroup_barrier(mem_flags::mem_threadgroup);
            const int r = r0 + lr;
            for (int j = 0; j < 8; j++)
            {
                const int jt = j0 + lc + j;
                if (jt < cnt && r < N_ROWS)
                {
                    const float gb = args.has_expert_bias != 0 ? gate_bias[(ulong)e * N_ROWS + r] : 0.0f;
                    const float ub = args.has_expert_bias != 0 ? up_bias[(ulong)e * N_ROWS + r] : 0.0f;
                    act[(ulong)list[jt] * N_ROWS + r] = ferrum_act(wg[lr * TILE + lc + j] + gb, wu[lr * TILE + lc + j] + ub);
                }
            }
        }

        // Prefill down, grouped by expert: grid (N_K / TILE, ceil(max tokens per expert / TILE), N_E), 128 threads;
        // y[pair][row] = weights[pair] * (down_e[row] . act[pair] + down_bias_e[row]); kernel_moe_combine then sums each token's slots.
        kernel void kernel_moe_mm_id_down_{F}(
            constant ferrum_moe_args& args [[buffer(0)]],
            device const uchar* down [[buffer(1)]],
            device const float* act [[buffer(2)]],
            device const int* counts [[buffer(3)]],
            device const int* lists [[buffer(4)]],
            device const float* weights [[buffer(5)]],
            device float* y [[buffer(6)]],
            device const float* down_bias [[buffer(7)]],
            uint3 tgpig [[threadgroup_position_in_grid]],
            ushort tiitg [[thread_index_in_threadgroup]],
            ushort sgitg [[simdgroup_index_in_threadgroup]])
        {
            threadgroup float ws[TILE * TILE];   // weight tile [row][k], then the results [row][token]
            threadgroup float as[TILE * TILE];   // activations [token][k]
            const int e = (int)tgpig.z;
            const int cnt = min(counts[e], args.max_per_expert);
            const int j0 = (int)tgpig.y * TILE;
            if (j0 >= cnt)
            {
                return;
            }
            const int r0 = (int)tgpig.x * TILE;
            const int lr = (int)tiitg / 4;
            const int lc = ((int)tiitg % 4) * 8;
            device const int* list = lists + (ulong)e * args.max_per_expert;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            device const uchar* wrow = down + (ulong)e * args.stride_down + (ulong)min(r0 + lr, N_ROWS - 1) * row_bytes;
            const bool has_token = j0 + lr < cnt;
            device const float* arow = act + (ulong)(has_token ? list[j0 + lr] : 0) * N_K;
            simdgroup_float8x8 c[4];
            for (int i = 0; i < 4; i++)
            {
                c[i] = make_filled_simdgroup_matrix<float, 8>(0.0f);
            }
            for (int k0 = 0; k0 < N_K; k0 += TILE)
            {
                ferrum_decode8_{F}(wrow, k0 + lc, ws + lr * TILE + lc);
                for (int j = 0; j < 8; j++)
                {
                    as[lr * TILE + lc + j] = has_token ? arow[k0 + lc + j] : 0.0f;
                }
                threadgroup_barrier(mem_flags::mem_threadgroup);
                for (int kk = 0; kk < TILE; kk += 8)
                {
                    simdgroup_float8x8 a;
                    simdgroup_load(a, ws + 8 * (int)sgitg * TILE + kk, TILE);
                    for (int i = 0; i < 4; i++)
                    {
                        simdgroup_float8x8 b;
                        simdgroup_load(b, as + 8 * i * TILE + kk, TILE, 0, true);
                        simdgroup_multiply_accumulate(c[i], a, b, c[i]);
                    }
                }
                threadgroup_barrier(mem_flags::mem_threadgroup);
            }
            for (int i = 0; i < 4; i++)
            {
                simdgroup_store(c[i], ws + 8 * (int)sgitg * TILE + 8 * i, TILE);
            }
            threadgroup_barrier(mem_flags::mem_threadgroup);
            const int r = r0 + lr;
            for (int j = 0; j < 8; j++)
            {
                const int jt = j0 + lc + j;
                if (jt < cnt && r < N_ROWS)
                {
                    const int pair = list[jt];
                    const float bias = args.has_down_bias != 0 ? down_bias[(ulong)e * N_ROWS + r] : 0.0f;
                    y[(ulong)pair * N_ROWS + r] = weights[pair] * (ws[lr * TILE + lc + j] + bias);
                }
            }
        }

        """;

    /// <summary>Body of the generator's dense mat-vec entry point (after rows, row_length and batch are declared).</summary>
    public const string MatVecEntryBody = """
            const int r = (int)gid.x;
            const int b = (int)gid.y;
            if (r >= rows || b >= batch)
            {
                return;
            }
            device const uchar* row = weights + (ulong)r * row_stride;
            device const float* x = input + (ulong)b * row_length;
            float sum = 0.0f;
            const int whole = row_length / UNIT * UNIT;
            for (int k0 = 0; k0 < whole; k0 += UNIT)
            {
                float xl[UNIT];
                float sx = 0.0f;
                for (int j = 0; j < UNIT; j++)
                {
                    xl[j] = x[k0 + j];
                    sx += xl[j];
                }
                sum += ferrum_unit_dot_{F}(row, k0, xl, sx);
            }
            for (int k = whole; k < row_length; k++)
            {
                sum += ferrum_decode_{F}(row, k) * x[k];
            }
            output[(ulong)b * rows + r] = sum;
        }

        """;

    /// <summary>Defaults of the format-independent kernels' #defines (the host prepends its own).</summary>
    public const string Common = """
        #ifndef FERRUM_MAX_EXPERTS
        #define FERRUM_MAX_EXPERTS 512
        #endif
        #ifndef FERRUM_MAX_TOPK
        #define FERRUM_MAX_TOPK 32
        #endif
        #ifndef FERRUM_MAX_GROUPS
        #define FERRUM_MAX_GROUPS 64
        #endif
        #ifndef FERRUM_ROUTE_NSG
        #define FERRUM_ROUTE_NSG 4
        #endif

        """;
}
