using System.Text;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// Prints OpenCL C 1.2 MoE programs from the per-format descriptions. One program per weight format holds:
/// <list type="bullet">
/// <item><c>ferrum_moe_gate_up_vec_{fmt}</c>: indirect mat-vec, one launch for every (token, slot) pair; the expert id is
/// read from the ids buffer; gate and up rows in one pass over x, output act(gate)·up.</item>
/// <item><c>ferrum_moe_down_vec_{fmt}</c>: one work-group row block per token, looping over the token's slots, so the
/// down projection and the routing-weighted sum are one kernel.</item>
/// <item><c>ferrum_moe_gate_up_tile_{fmt}</c>, <c>ferrum_moe_down_tile_{fmt}</c>: batched prefill; a work-group takes one
/// expert and a tile of the tokens routed to it (lists from <c>ferrum_moe_group</c>), stages dequantized weights and
/// gathered activations in local memory (FERRUM_KC elements of K at a time, a multiple of 32 dividing H and F), so
/// each weight is read and decoded once per token tile.</item>
/// <item><c>ferrum_dequant_{fmt}</c>: plain dequantization (tests).</item>
/// </list>
/// and the format-independent <c>ferrum_moe_route</c>, <c>ferrum_moe_group</c>, <c>ferrum_moe_combine</c>: the templates
/// shared with MSL (<see cref="GpuMoeTemplates"/>) in <see cref="GpuDialect.OpenCL"/>.
/// Sizes are kernel arguments in every variant; a program specialized for one weight matrix shape (rows × row
/// length: gate/up F×H, down H×F) defines them as constants instead (the argument is then ignored), so the host
/// launches both the same way. Work-group geometry comes from -D options with defaults here.
/// </summary>
internal static class OpenCLMoePrinter
{
    /// <summary>Program name of a format, shape-generic or specialized for one weight matrix shape.</summary>
    public static string ProgramName(FormatKernel format, MatrixShape? shape) =>
        shape is null ? $"ferrum_moe_{format.Name}" : $"ferrum_moe_{format.Name}_{shape.Suffix}";

    /// <summary>Elements one work-item reduces at a time: one sub-block (shared scale), 32 for unquantized formats.</summary>
    public static int UnitElements(FormatKernel format) => format.IsPlainFloat ? 32 : format.SubBlockElements;

    /// <summary>The format's MoE program.</summary>
    /// <param name="format">Weight format.</param>
    /// <param name="shape">Weight matrix shape to bake in; null for sizes as kernel arguments.</param>
    /// <param name="denseEntryPoint">When set, also a plain batched mat-vec under this name (the generator pipeline's
    /// per-kernel entry point): <c>(weights, row_stride, input, output[, ROWS, ROW_LENGTH, BATCH])</c>, one work-item
    /// per (row, token), ROWS/ROW_LENGTH/BATCH baked in when <paramref name="shape"/> is set.</param>
    /// <param name="batch">Tokens the dense mat-vec is specialized for (with <paramref name="shape"/>).</param>
    public static string PrintFormatProgram(FormatKernel format, MatrixShape? shape, string? denseEntryPoint = null, int batch = 0)
    {
        var f = format.Name;
        var sb = new StringBuilder();
        sb.Append("// Ferrum MoE kernels for ").Append(f).Append(shape is null ? " (shape-generic)" : " specialized for " + shape.Suffix)
            .Append(". Generated from the format description; OpenCL C 1.2.\n");
        sb.Append(Geometry);
        // Rows and row length of the weight matrix the launch reads (gate/up: F×H, down: H×F): arguments, or baked in.
        if (shape is null)
        {
            sb.Append("#define N_ROWS rows_arg\n#define N_K k_arg\n");
        }
        else
        {
            sb.Append("#define N_ROWS ").Append(shape.Rows).Append('\n')
                .Append("#define N_K ").Append(shape.RowLength).Append('\n');
        }

        sb.Append("#define N_E e_arg\n#define N_TOPK topk_arg\n");

        sb.Append("#define QK ").Append(format.BlockElements).Append('\n')
            .Append("#define BB ").Append(format.BlockBytes).Append('\n')
            .Append("#define UNIT ").Append(UnitElements(format)).Append("\n\n");

        foreach (var t in format.Tables)
        {
            sb.Append("__constant int ").Append(t.Name).Append("[").Append(t.Values.Count).Append("] = { ")
                .Append(string.Join(", ", t.Values)).Append(" };\n");
        }

        sb.Append(Helpers);
        AppendUnitDot(sb, format);
        AppendUnitDecode(sb, format);
        AppendDecode(sb, format);
        sb.Append(FormatKernels.Replace("{F}", f));
        sb.Append(GpuMoeTemplates.Dequant(GpuDialect.OpenCL, f));
        sb.Append(Common);
        sb.Append(GpuMoeTemplates.FormatIndependent(GpuDialect.OpenCL));
        if (denseEntryPoint is not null)
        {
            AppendDense(sb, format, shape, denseEntryPoint, batch);
        }

        return sb.ToString();
    }

    private static void AppendUnitDot(StringBuilder sb, FormatKernel format)
    {
        var p = new OpenCLExprPrinter("b", "i", "s", "");
        sb.Append("// Partial dot of UNIT elements from k0 (a multiple of UNIT) of a weight row with x: Scale*sum(q*x) + Offset*sum(x).\n");
        sb.Append("inline float ferrum_unit_dot_").Append(format.Name)
            .Append("(const __global uchar* row, const int k0, const __global float* x)\n{\n");
        if (format.IsPlainFloat)
        {
            sb.Append("    float sq = 0.0f;\n    for (int j = 0; j < UNIT; j++)\n    {\n");
            sb.Append("        const __global uchar* b = row + (size_t)(k0 + j) * BB;\n");
            sb.Append("        sq += ").Append(p.PrintQuantAsFloat(format)).Append(" * x[k0 + j];\n    }\n    return sq;\n}\n\n");
            return;
        }

        sb.Append("    const __global uchar* b = row + (size_t)(k0 / QK) * BB;\n");
        sb.Append("    const int i0 = k0 % QK;\n");
        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = i0 / ").Append(format.SubBlockElements).Append(";\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
        var hasOffset = format.Offset is not null;
        sb.Append("    float sq = 0.0f;\n");
        if (hasOffset)
        {
            sb.Append("    float sx = 0.0f;\n");
        }

        sb.Append("    for (int j = 0; j < UNIT; j++)\n    {\n        const int i = i0 + j;\n");
        sb.Append(p.PrintLets(format, DecodeScope.Element, "        "));
        sb.Append("        const float xv = x[k0 + j];\n");
        sb.Append("        sq += ").Append(p.PrintQuantAsFloat(format)).Append(" * xv;\n");
        if (hasOffset)
        {
            sb.Append("        sx += xv;\n");
        }

        sb.Append("    }\n    return ").Append(p.Print(format.Scale)).Append(" * sq");
        if (hasOffset)
        {
            sb.Append(" + ").Append(p.Print(format.Offset!)).Append(" * sx");
        }

        sb.Append(";\n}\n\n");
    }

    private static void AppendDense(StringBuilder sb, FormatKernel format, MatrixShape? shape, string entryPoint, int batch)
    {
        sb.Append("\n// Plain batched mat-vec: output[b][r] = row r · input[b]; work size (rows, batch).\n");
        if (shape is not null)
        {
            sb.Append("#define ROWS ").Append(shape.Rows).Append('\n')
                .Append("#define ROW_LENGTH ").Append(shape.RowLength).Append('\n')
                .Append("#define BATCH ").Append(batch).Append('\n');
        }

        sb.Append("__kernel void ").Append(entryPoint).Append("(\n");
        sb.Append("    __global const uchar* weights, const ulong row_stride, __global const float* input, __global float* output");
        sb.Append(shape is null ? ",\n    const int ROWS, const int ROW_LENGTH, const int BATCH)\n" : ")\n");
        sb.Append("{\n");
        sb.Append("    const int r = (int)get_global_id(0);\n");
        sb.Append("    const int b = (int)get_global_id(1);\n");
        sb.Append("    if (r >= ROWS || b >= BATCH)\n    {\n        return;\n    }\n");
        sb.Append("    const __global uchar* row = weights + (ulong)r * row_stride;\n");
        sb.Append("    const __global float* x = input + (size_t)b * ROW_LENGTH;\n");
        sb.Append("    float sum = 0.0f;\n");
        sb.Append("    for (int k0 = 0; k0 < ROW_LENGTH; k0 += UNIT)\n    {\n");
        sb.Append("        sum += ferrum_unit_dot_").Append(format.Name).Append("(row, k0, x);\n    }\n");
        sb.Append("    output[(size_t)b * ROWS + r] = sum;\n}\n");
    }

    private static void AppendUnitDecode(StringBuilder sb, FormatKernel format)
    {
        var p = new OpenCLExprPrinter("b", "i", "s", "");
        sb.Append("// Decodes UNIT elements from k0 (a multiple of UNIT) of a weight row into local memory; scale lets once per unit.\n");
        sb.Append("inline void ferrum_unit_decode_").Append(format.Name)
            .Append("(const __global uchar* row, const int k0, __local float* out)\n{\n");
        if (format.IsPlainFloat)
        {
            sb.Append("    for (int j = 0; j < UNIT; j++)\n    {\n");
            sb.Append("        const __global uchar* b = row + (size_t)(k0 + j) * BB;\n");
            sb.Append("        out[j] = ").Append(p.PrintQuantAsFloat(format)).Append(";\n    }\n}\n\n");
            return;
        }

        sb.Append("    const __global uchar* b = row + (size_t)(k0 / QK) * BB;\n");
        sb.Append("    const int i0 = k0 % QK;\n");
        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = i0 / ").Append(format.SubBlockElements).Append(";\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
        sb.Append("    const float scale = ").Append(p.Print(format.Scale)).Append(";\n");
        if (format.Offset is not null)
        {
            sb.Append("    const float offset = ").Append(p.Print(format.Offset)).Append(";\n");
        }

        sb.Append("    for (int j = 0; j < UNIT; j++)\n    {\n        const int i = i0 + j;\n");
        sb.Append(p.PrintLets(format, DecodeScope.Element, "        "));
        sb.Append("        out[j] = scale * ").Append(p.PrintQuantAsFloat(format)).Append(format.Offset is null ? ";\n" : " + offset;\n");
        sb.Append("    }\n}\n\n");
    }

    private static void AppendDecode(StringBuilder sb, FormatKernel format)
    {
        var p = new OpenCLExprPrinter("b", "i", "s", "");
        sb.Append("// Element k of a weight row.\n");
        sb.Append("inline float ferrum_decode_").Append(format.Name).Append("(const __global uchar* row, const int k)\n{\n");
        sb.Append("    const __global uchar* b = row + (size_t)(k / QK) * BB;\n");
        if (format.Uses(IndexVar.Element) || format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int i = k % QK;\n");
        }

        if (format.Uses(IndexVar.SubBlock))
        {
            sb.Append("    const int s = i / ").Append(format.SubBlockElements).Append(";\n");
        }

        sb.Append(p.PrintLets(format, DecodeScope.Block, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.SubBlock, "    "));
        sb.Append(p.PrintLets(format, DecodeScope.Element, "    "));
        sb.Append("    return ").Append(p.PrintValue(format)).Append(";\n}\n\n");
    }

    private const string Geometry = """
        #ifndef FERRUM_TPR
        #define FERRUM_TPR 16
        #endif
        #ifndef FERRUM_RPG
        #define FERRUM_RPG 4
        #endif
        #define FERRUM_WG (FERRUM_TPR * FERRUM_RPG)
        #ifndef FERRUM_TR
        #define FERRUM_TR 16
        #endif
        #ifndef FERRUM_TT
        #define FERRUM_TT 16
        #endif
        #ifndef FERRUM_KC
        #define FERRUM_KC 32
        #endif

        """;

    private const string Helpers = """

        // Activation of the gated FFN: SiLU(g)*u, or gpt-oss's clamped swiglu (-D FERRUM_ACT_OAI=1).
        inline float ferrum_act(const float g, const float u)
        {
        #if defined(FERRUM_ACT_OAI) && FERRUM_ACT_OAI
            const float xg = fmin(g, 7.0f);
            const float yu = clamp(u, -7.0f, 7.0f);
            return xg / (1.0f + exp(-1.702f * xg)) * (yu + 1.0f);
        #else
            return g / (1.0f + exp(-g)) * u;
        #endif
        }

        // Sum of v over the FERRUM_TPR work-items that share a row (a power of two), in local memory: OpenCL 1.2 has
        // no sub-group functions. Every work-item of the group must call it.
        inline float ferrum_row_sum(__local float* red, const int lid, const int lane, const float v)
        {
        #if FERRUM_TPR == 1
            // One work-item per row (CPU devices): nothing to reduce, and no barrier keeps work-items independent.
            return v;
        #else
            barrier(CLK_LOCAL_MEM_FENCE);
            red[lid] = v;
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int off = FERRUM_TPR / 2; off > 0; off >>= 1)
            {
                if (lane < off)
                {
                    red[lid] += red[lid + off];
                }
                barrier(CLK_LOCAL_MEM_FENCE);
            }
            return red[lid - lane];
        #endif
        }


        """;

    private const string FormatKernels = """
        // gate||up for every (token, slot) pair: group (row block, pair); act[pair][row] = act(gate·x, up·x).
        __kernel __attribute__((reqd_work_group_size(FERRUM_WG, 1, 1)))
        void ferrum_moe_gate_up_vec_{F}(
            const __global uchar* gate_w, const ulong gate_offset,
            const __global uchar* up_w, const ulong up_offset, const ulong expert_stride,
            const __global float* x, const __global int* ids, __global float* act,
            const __global float* gate_b, const __global float* up_b,
            const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int has_bias)
        {
            __local float red[FERRUM_WG];
            const int lid = get_local_id(0);
            const int lane = lid % FERRUM_TPR;
            const int r = get_group_id(0) * FERRUM_RPG + lid / FERRUM_TPR;
            const int rr = r < N_ROWS ? r : N_ROWS - 1;
            const int p = get_group_id(1);
            const int t = p / N_TOPK;
            const int id = ids[p];
            const int e = (uint)id < (uint)N_E ? id : 0;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            const __global uchar* g_row = gate_w + gate_offset + (ulong)e * expert_stride + (ulong)rr * row_bytes;
            const __global uchar* u_row = up_w + up_offset + (ulong)e * expert_stride + (ulong)rr * row_bytes;
            const __global float* xt = x + (size_t)t * N_K;
            float g = 0.0f;
            float u = 0.0f;
            for (int k0 = lane * UNIT; k0 < N_K; k0 += FERRUM_TPR * UNIT)
            {
                g += ferrum_unit_dot_{F}(g_row, k0, xt);
                u += ferrum_unit_dot_{F}(u_row, k0, xt);
            }
            g = ferrum_row_sum(red, lid, lane, g);
            u = ferrum_row_sum(red, lid, lane, u);
            if (lane == 0 && r < N_ROWS)
            {
                const float gb = has_bias ? gate_b[(size_t)e * N_ROWS + r] : 0.0f;
                const float ub = has_bias ? up_b[(size_t)e * N_ROWS + r] : 0.0f;
                act[(size_t)p * N_ROWS + r] = (uint)id < (uint)N_E ? ferrum_act(g + gb, u + ub) : NAN;
            }
        }

        // down + weighted sum: group (row block, token); out[token][row] = sum over slots of weight * (down_e(act[pair]) + bias_e),
        // added to out[token][row] when accumulate is set (the shared expert after the routed ones).
        __kernel __attribute__((reqd_work_group_size(FERRUM_WG, 1, 1)))
        void ferrum_moe_down_vec_{F}(
            const __global uchar* down_w, const ulong down_offset, const ulong expert_stride,
            const __global float* act, const __global int* ids, const __global float* weights, __global float* out,
            const __global float* down_b,
            const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int has_bias, const int accumulate)
        {
            __local float red[FERRUM_WG];
            const int lid = get_local_id(0);
            const int lane = lid % FERRUM_TPR;
            const int r = get_group_id(0) * FERRUM_RPG + lid / FERRUM_TPR;
            const int rr = r < N_ROWS ? r : N_ROWS - 1;
            const int t = get_group_id(1);
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            float acc = 0.0f;
            int bad = 0;
            for (int k = 0; k < N_TOPK; k++)
            {
                const int p = t * N_TOPK + k;
                const int id = ids[p];
                bad |= (uint)id >= (uint)N_E;
                const int e = (uint)id < (uint)N_E ? id : 0;
                const __global uchar* row = down_w + down_offset + (ulong)e * expert_stride + (ulong)rr * row_bytes;
                const __global float* a = act + (size_t)p * N_K;
                float part = 0.0f;
                for (int k0 = lane * UNIT; k0 < N_K; k0 += FERRUM_TPR * UNIT)
                {
                    part += ferrum_unit_dot_{F}(row, k0, a);
                }
                // The bias once per row: lane 0's part, before the row sum.
                const float bias = has_bias && lane == 0 ? down_b[(size_t)e * N_ROWS + rr] : 0.0f;
                acc += weights[p] * (part + bias);
            }
            acc = ferrum_row_sum(red, lid, lane, acc);
            if (lane == 0 && r < N_ROWS)
            {
                const size_t o = (size_t)t * N_ROWS + r;
                out[o] = bad ? NAN : accumulate ? out[o] + acc : acc;
            }
        }

        // Prefill gate||up: group (row tile, token tile of one expert) over the tokens routed to that expert.
        __kernel __attribute__((reqd_work_group_size(FERRUM_TR, FERRUM_TT, 1)))
        void ferrum_moe_gate_up_tile_{F}(
            const __global uchar* gate_w, const ulong gate_offset,
            const __global uchar* up_w, const ulong up_offset, const ulong expert_stride,
            const __global float* x, const __global int* counts, const __global int* lists, const __global int* tiles, __global float* act,
            const __global float* gate_b, const __global float* up_b,
            const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int max_per_expert, const int has_bias)
        {
            __local float wg[FERRUM_TR][FERRUM_KC + 1];
            __local float wu[FERRUM_TR][FERRUM_KC + 1];
            __local float xs[FERRUM_TT][FERRUM_KC + 1];
            // tiles[] lists (expert, first routed token) of every non-empty token tile, so no group idles.
            const int e = tiles[2 * get_group_id(1)];
            const int j0 = tiles[2 * get_group_id(1) + 1];
            const int cnt = counts[e];
            const int lr = get_local_id(0);
            const int lt = get_local_id(1);
            const int lin = lt * FERRUM_TR + lr;
            const int r0 = get_group_id(0) * FERRUM_TR;
            const __global int* list = lists + (size_t)e * max_per_expert;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            const __global uchar* gbase = gate_w + gate_offset + (ulong)e * expert_stride;
            const __global uchar* ubase = up_w + up_offset + (ulong)e * expert_stride;
            float g = 0.0f;
            float u = 0.0f;
            for (int k0 = 0; k0 < N_K; k0 += FERRUM_KC)
            {
                for (int task = lin; task < FERRUM_TR * (FERRUM_KC / UNIT); task += FERRUM_TR * FERRUM_TT)
                {
                    const int rr = task / (FERRUM_KC / UNIT);
                    const int kk = (task % (FERRUM_KC / UNIT)) * UNIT;
                    const int row = min(r0 + rr, N_ROWS - 1);
                    ferrum_unit_decode_{F}(gbase + (ulong)row * row_bytes, k0 + kk, &wg[rr][kk]);
                    ferrum_unit_decode_{F}(ubase + (ulong)row * row_bytes, k0 + kk, &wu[rr][kk]);
                }
                for (int idx = lin; idx < FERRUM_TT * FERRUM_KC; idx += FERRUM_TR * FERRUM_TT)
                {
                    const int jj = idx / FERRUM_KC;
                    const int kk = idx % FERRUM_KC;
                    const int j = j0 + jj;
                    xs[jj][kk] = j < cnt ? x[(size_t)(list[j] / N_TOPK) * N_K + k0 + kk] : 0.0f;
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                for (int c = 0; c < FERRUM_KC; c++)
                {
                    g += wg[lr][c] * xs[lt][c];
                    u += wu[lr][c] * xs[lt][c];
                }
                barrier(CLK_LOCAL_MEM_FENCE);
            }
            const int j = j0 + lt;
            const int r = r0 + lr;
            if (j < cnt && r < N_ROWS)
            {
                const float gb = has_bias ? gate_b[(size_t)e * N_ROWS + r] : 0.0f;
                const float ub = has_bias ? up_b[(size_t)e * N_ROWS + r] : 0.0f;
                act[(size_t)list[j] * N_ROWS + r] = ferrum_act(g + gb, u + ub);
            }
        }

        // Prefill down: group (row tile, token tile of one expert); y[pair][row] = weight[pair] * (down_e(act[pair]) + bias_e).
        __kernel __attribute__((reqd_work_group_size(FERRUM_TR, FERRUM_TT, 1)))
        void ferrum_moe_down_tile_{F}(
            const __global uchar* down_w, const ulong down_offset, const ulong expert_stride,
            const __global float* act, const __global int* counts, const __global int* lists, const __global int* tiles,
            const __global float* weights, __global float* y, const __global float* down_b,
            const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int max_per_expert, const int has_bias)
        {
            __local float ws[FERRUM_TR][FERRUM_KC + 1];
            __local float as[FERRUM_TT][FERRUM_KC + 1];
            // tiles[] lists (expert, first routed token) of every non-empty token tile, so no group idles.
            const int e = tiles[2 * get_group_id(1)];
            const int j0 = tiles[2 * get_group_id(1) + 1];
            const int cnt = counts[e];
            const int lr = get_local_id(0);
            const int lt = get_local_id(1);
            const int lin = lt * FERRUM_TR + lr;
            const int r0 = get_group_id(0) * FERRUM_TR;
            const __global int* list = lists + (size_t)e * max_per_expert;
            const ulong row_bytes = (ulong)(N_K / QK) * BB;
            const __global uchar* base = down_w + down_offset + (ulong)e * expert_stride;
            float acc = 0.0f;
            for (int k0 = 0; k0 < N_K; k0 += FERRUM_KC)
            {
                for (int task = lin; task < FERRUM_TR * (FERRUM_KC / UNIT); task += FERRUM_TR * FERRUM_TT)
                {
                    const int rr = task / (FERRUM_KC / UNIT);
                    const int kk = (task % (FERRUM_KC / UNIT)) * UNIT;
                    const int row = min(r0 + rr, N_ROWS - 1);
                    ferrum_unit_decode_{F}(base + (ulong)row * row_bytes, k0 + kk, &ws[rr][kk]);
                }
                for (int idx = lin; idx < FERRUM_TT * FERRUM_KC; idx += FERRUM_TR * FERRUM_TT)
                {
                    const int jj = idx / FERRUM_KC;
                    const int kk = idx % FERRUM_KC;
                    const int j = j0 + jj;
                    as[jj][kk] = j < cnt ? act[(size_t)list[j] * N_K + k0 + kk] : 0.0f;
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                for (int c = 0; c < FERRUM_KC; c++)
                {
                    acc += ws[lr][c] * as[lt][c];
                }
                barrier(CLK_LOCAL_MEM_FENCE);
            }
            const int j = j0 + lt;
            const int r = r0 + lr;
            if (j < cnt && r < N_ROWS)
            {
                const int p = list[j];
                y[(size_t)p * N_ROWS + r] = weights[p] * (acc + (has_bias ? down_b[(size_t)e * N_ROWS + r] : 0.0f));
            }
        }

        """;

    private const string Common = """
        #ifndef FERRUM_ROUTE_WG
        #define FERRUM_ROUTE_WG 64
        #endif
        #ifndef FERRUM_MAX_EXPERTS
        #define FERRUM_MAX_EXPERTS 512
        #endif
        #ifndef FERRUM_MAX_TOPK
        #define FERRUM_MAX_TOPK 64
        #endif

        """;
}
