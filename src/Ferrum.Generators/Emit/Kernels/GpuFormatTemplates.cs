using System.Collections.Generic;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// The format kernels of the MoE programs, written once for OpenCL C and MSL (rendered through a
/// <see cref="GpuDialect"/> by <see cref="GpuMoeTemplates.Render"/>, then <c>{F}</c> replaced by the format's name):
/// the decode mat-vecs (gate||up per (token, slot) pair, down + routing-weighted sum), the prefill tiles (gate||up,
/// down) and the generator's dense mat-vec entry point. Their per-format helpers (<c>ferrum_unit_dot_{F}</c>,
/// <c>ferrum_unit_decode_{F}</c>, <c>ferrum_decode_{F}</c>) are printed from the format's expression tree by
/// <see cref="GpuFormatHelpers"/>, and <see cref="GpuMoeProgram"/> puts a whole program together.
/// </summary>
internal static class GpuFormatTemplates
{
    /// <summary>The format kernel templates (each still holds <c>{F}</c>).</summary>
    public static IReadOnlyList<string> All { get; } = [Preamble, GateUpVecTemplate, DownVecTemplate, GateUpTileTemplate, DownTileTemplate, DenseTemplate];

    /// <summary>Geometry defaults (the host prepends its own #defines), the activation and the row sum.</summary>
    public const string Preamble = """
        // Mat-vec geometry: FERRUM_TPR threads share a row block of FERRUM_NR rows, FERRUM_RPG row blocks per work-group.
        #ifndef FERRUM_TPR
        #define FERRUM_TPR {TPR_DEFAULT}
        #endif
        #ifndef FERRUM_NR
        #define FERRUM_NR 1
        #endif
        #ifndef FERRUM_RPG
        #define FERRUM_RPG 4
        #endif
        #define FERRUM_WG (FERRUM_TPR * FERRUM_RPG)
        // Prefill tiles: FERRUM_TR weight rows x FERRUM_TT routed tokens per work-group, K staged FERRUM_KC at a time
        // (a multiple of UNIT dividing the row length).
        #ifndef FERRUM_TR
        #define FERRUM_TR 16
        #endif
        #ifndef FERRUM_TT
        #define FERRUM_TT 16
        #endif
        #ifndef FERRUM_KC
        #define FERRUM_KC 32
        #endif
        // Activation: 0 = SiLU(gate)*up, 1 = gpt-oss clamped swiglu.
        #ifndef FERRUM_ACT_OAI
        #define FERRUM_ACT_OAI 0
        #endif

        {INLINE} float ferrum_act(const float g, const float u)
        {
        #if FERRUM_ACT_OAI
            const float xg = fmin(g, 7.0f);
            const float yu = clamp(u, -7.0f, 7.0f);
            return xg / (1.0f + exp(-1.702f * xg)) * (yu + 1.0f);
        #else
            return g / (1.0f + exp(-g)) * u;
        #endif
        }

        // FERRUM_ROW_SUM(v): sum of v over the FERRUM_TPR threads of a row block; every thread of the work-group calls it.
        {ROW_SUM}


        """;

    /// <summary>gate||up for every (token, slot) pair.</summary>
    public const string GateUpVecTemplate = """
        // gate||up for every (token, slot) pair (N_ROWS = F, N_K = H): work-group (row blocks, pair);
        // act[pair][row] = act(gate_e[row] . x[token] + gate_bias, up_e[row] . x[token] + up_bias), NaN for a bad id.
        // Thread `lane` of a row block takes units lane, lane + FERRUM_TPR, ... of the K axis of the gate and up rows of
        // its FERRUM_NR rows; the block's threads then sum their parts.
        {GATE_UP_VEC_HEAD}
        {
        {ROW_SCRATCH}
        {GATE_UP_VEC_PROLOGUE}
            const int lane = lid % FERRUM_TPR;
            const int r0 = (block * FERRUM_RPG + lid / FERRUM_TPR) * FERRUM_NR;
            const int t = pair / N_TOPK;
            const int id = ids[pair];
            const bool ok = (uint)id < (uint)N_E;
            const int e = ok ? id : 0;
            const {SIZE} row_bytes = ({SIZE})(N_K / QK) * BB;
            const {G} uchar* gbase = gate_w + ({SIZE})e * stride_w;
            const {G} uchar* ubase = up_w + ({SIZE})e * stride_w;
            const {G} float* xt = x + ({SIZE})t * N_K;
            float g[FERRUM_NR];
            float u[FERRUM_NR];
            for (int r = 0; r < FERRUM_NR; r++)
            {
                g[r] = 0.0f;
                u[r] = 0.0f;
            }
            for (int k0 = lane * UNIT; k0 < N_K; k0 += FERRUM_TPR * UNIT)
            {
                for (int r = 0; r < FERRUM_NR; r++)
                {
                    const {SIZE} off = ({SIZE})min(r0 + r, N_ROWS - 1) * row_bytes;
                    g[r] += ferrum_unit_dot_{F}(gbase + off, k0, xt);
                    u[r] += ferrum_unit_dot_{F}(ubase + off, k0, xt);
                }
            }
            for (int r = 0; r < FERRUM_NR; r++)
            {
                const float gs = FERRUM_ROW_SUM(g[r]);
                const float us = FERRUM_ROW_SUM(u[r]);
                if (lane == 0 && r0 + r < N_ROWS)
                {
                    const {SIZE} b = ({SIZE})e * N_ROWS + r0 + r;
                    const float gb = has_bias ? gate_bias[b] : 0.0f;
                    const float ub = has_bias ? up_bias[b] : 0.0f;
                    act[({SIZE})pair * N_ROWS + r0 + r] = ok ? ferrum_act(gs + gb, us + ub) : NAN;
                }
            }
        }

        """;

    /// <summary>down + routing-weighted sum, one work-group row block per token.</summary>
    public const string DownVecTemplate = """
        // down + routing-weighted sum (N_ROWS = H, N_K = F): work-group (row blocks, token);
        // out[token][row] = sum over slots of weights[pair] * (down_e[row] . act[pair] + down_bias_e[row]), added onto
        // out when accumulate is set (the shared expert, run as a one-expert top-1 block after the routed ones); NaN when
        // a slot's id is bad. Same row blocks and K split as gate||up.
        {DOWN_VEC_HEAD}
        {
        {ROW_SCRATCH}
        {DOWN_VEC_PROLOGUE}
            const int lane = lid % FERRUM_TPR;
            const int r0 = (block * FERRUM_RPG + lid / FERRUM_TPR) * FERRUM_NR;
            const {SIZE} row_bytes = ({SIZE})(N_K / QK) * BB;
            float acc[FERRUM_NR];
            for (int r = 0; r < FERRUM_NR; r++)
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
                const {G} uchar* base = down_w + ({SIZE})e * stride_w;
                const {G} float* a = act + ({SIZE})pair * N_K;
                float part[FERRUM_NR];
                for (int r = 0; r < FERRUM_NR; r++)
                {
                    part[r] = 0.0f;
                }
                for (int k0 = lane * UNIT; k0 < N_K; k0 += FERRUM_TPR * UNIT)
                {
                    for (int r = 0; r < FERRUM_NR; r++)
                    {
                        part[r] += ferrum_unit_dot_{F}(base + ({SIZE})min(r0 + r, N_ROWS - 1) * row_bytes, k0, a);
                    }
                }
                for (int r = 0; r < FERRUM_NR; r++)
                {
                    // The bias once per row: lane 0's part, before the row sum.
                    const float bias = has_bias && lane == 0 ? down_bias[({SIZE})e * N_ROWS + min(r0 + r, N_ROWS - 1)] : 0.0f;
                    acc[r] += wgt * (part[r] + bias);
                }
            }
            for (int r = 0; r < FERRUM_NR; r++)
            {
                const float v = FERRUM_ROW_SUM(acc[r]);
                if (lane == 0 && r0 + r < N_ROWS)
                {
                    const {SIZE} o = ({SIZE})t * N_ROWS + r0 + r;
                    out[o] = bad ? NAN : accumulate ? out[o] + v : v;
                }
            }
        }

        """;

    /// <summary>Prefill gate||up over the tokens routed to one expert.</summary>
    public const string GateUpTileTemplate = """
        // Prefill gate||up, grouped by expert: a work-group of FERRUM_TR x FERRUM_TT threads takes expert e, FERRUM_TR
        // weight rows from r0 and FERRUM_TT of the pairs routed to e from j0 (lists from the grouping kernel). Per K step
        // of FERRUM_KC it decodes the gate and up tiles into work-group memory one unit per task and gathers the tokens'
        // activations, so each weight is read and decoded once per token tile; thread (lr, lt) then accumulates row lr
        // times token lt.
        {GATE_UP_TILE_HEAD}
        {
            {L} float wg[FERRUM_TR][FERRUM_KC + 1];
            {L} float wu[FERRUM_TR][FERRUM_KC + 1];
            {L} float xs[FERRUM_TT][FERRUM_KC + 1];
        {GATE_UP_TILE_PROLOGUE}
            const int cnt = min(counts[e], max_per_expert);
            if (j0 >= cnt)
            {
                return; // uniform for the work-group: no pairs of this expert in this token tile
            }
            const int lin = lt * FERRUM_TR + lr;
            const {G} int* list = lists + ({SIZE})e * max_per_expert;
            const {SIZE} row_bytes = ({SIZE})(N_K / QK) * BB;
            const {G} uchar* gbase = gate_w + ({SIZE})e * stride_w;
            const {G} uchar* ubase = up_w + ({SIZE})e * stride_w;
            float g = 0.0f;
            float u = 0.0f;
            for (int k0 = 0; k0 < N_K; k0 += FERRUM_KC)
            {
                for (int task = lin; task < FERRUM_TR * (FERRUM_KC / UNIT); task += FERRUM_TR * FERRUM_TT)
                {
                    const int rr = task / (FERRUM_KC / UNIT);
                    const int kk = (task % (FERRUM_KC / UNIT)) * UNIT;
                    const {SIZE} off = ({SIZE})min(r0 + rr, N_ROWS - 1) * row_bytes;
                    ferrum_unit_decode_{F}(gbase + off, k0 + kk, &wg[rr][kk]);
                    ferrum_unit_decode_{F}(ubase + off, k0 + kk, &wu[rr][kk]);
                }
                for (int idx = lin; idx < FERRUM_TT * FERRUM_KC; idx += FERRUM_TR * FERRUM_TT)
                {
                    const int jj = idx / FERRUM_KC;
                    const int kk = idx % FERRUM_KC;
                    const int j = j0 + jj;
                    xs[jj][kk] = j < cnt ? x[({SIZE})(list[j] / N_TOPK) * N_K + k0 + kk] : 0.0f;
                }
                {BARRIER};
                for (int c = 0; c < FERRUM_KC; c++)
                {
                    g += wg[lr][c] * xs[lt][c];
                    u += wu[lr][c] * xs[lt][c];
                }
                {BARRIER};
            }
            const int j = j0 + lt;
            const int r = r0 + lr;
            if (j < cnt && r < N_ROWS)
            {
                const float gb = has_bias ? gate_bias[({SIZE})e * N_ROWS + r] : 0.0f;
                const float ub = has_bias ? up_bias[({SIZE})e * N_ROWS + r] : 0.0f;
                act[({SIZE})list[j] * N_ROWS + r] = ferrum_act(g + gb, u + ub);
            }
        }

        """;

    /// <summary>Prefill down over the tokens routed to one expert, each output weighted by its pair's routing weight.</summary>
    public const string DownTileTemplate = """
        // Prefill down, grouped by expert, the same tiles as gate||up; y[pair][row] = weights[pair] * (down_e[row] .
        // act[pair] + down_bias_e[row]); the combine kernel then sums each token's slots.
        {DOWN_TILE_HEAD}
        {
            {L} float ws[FERRUM_TR][FERRUM_KC + 1];
            {L} float as[FERRUM_TT][FERRUM_KC + 1];
        {DOWN_TILE_PROLOGUE}
            const int cnt = min(counts[e], max_per_expert);
            if (j0 >= cnt)
            {
                return; // uniform for the work-group: no pairs of this expert in this token tile
            }
            const int lin = lt * FERRUM_TR + lr;
            const {G} int* list = lists + ({SIZE})e * max_per_expert;
            const {SIZE} row_bytes = ({SIZE})(N_K / QK) * BB;
            const {G} uchar* base = down_w + ({SIZE})e * stride_w;
            float acc = 0.0f;
            for (int k0 = 0; k0 < N_K; k0 += FERRUM_KC)
            {
                for (int task = lin; task < FERRUM_TR * (FERRUM_KC / UNIT); task += FERRUM_TR * FERRUM_TT)
                {
                    const int rr = task / (FERRUM_KC / UNIT);
                    const int kk = (task % (FERRUM_KC / UNIT)) * UNIT;
                    ferrum_unit_decode_{F}(base + ({SIZE})min(r0 + rr, N_ROWS - 1) * row_bytes, k0 + kk, &ws[rr][kk]);
                }
                for (int idx = lin; idx < FERRUM_TT * FERRUM_KC; idx += FERRUM_TR * FERRUM_TT)
                {
                    const int jj = idx / FERRUM_KC;
                    const int kk = idx % FERRUM_KC;
                    const int j = j0 + jj;
                    as[jj][kk] = j < cnt ? act[({SIZE})list[j] * N_K + k0 + kk] : 0.0f;
                }
                {BARRIER};
                for (int c = 0; c < FERRUM_KC; c++)
                {
                    acc += ws[lr][c] * as[lt][c];
                }
                {BARRIER};
            }
            const int j = j0 + lt;
            const int r = r0 + lr;
            if (j < cnt && r < N_ROWS)
            {
                const int pair = list[j];
                const float bias = has_bias ? down_bias[({SIZE})e * N_ROWS + r] : 0.0f;
                y[({SIZE})pair * N_ROWS + r] = weights[pair] * (acc + bias);
            }
        }

        """;

    /// <summary>The generator's dense mat-vec entry point ({ENTRY} is the entry point's name).</summary>
    public const string DenseTemplate = """
        // The generator's dense mat-vec entry point: output[b * rows + r] = dot(weight row r, input[b * row_length ..]),
        // one thread per output, grid (rows, batch); a row length that is not a multiple of UNIT ends element by element.
        {DENSE_HEAD}
        {
        {DENSE_PROLOGUE}
            const int rows = D_ROWS;
            const int row_length = D_ROW_LENGTH;
            const int batch = D_BATCH;
            if (r >= rows || b >= batch)
            {
                return;
            }
            const {G} uchar* row = weights + ({SIZE})r * row_stride;
            const {G} float* x = input + ({SIZE})b * row_length;
            float sum = 0.0f;
            const int whole = row_length / UNIT * UNIT;
            for (int k0 = 0; k0 < whole; k0 += UNIT)
            {
                sum += ferrum_unit_dot_{F}(row, k0, x);
            }
            for (int k = whole; k < row_length; k++)
            {
                sum += ferrum_decode_{F}(row, k) * x[k];
            }
            output[({SIZE})b * rows + r] = sum;
        }

        """;
}
