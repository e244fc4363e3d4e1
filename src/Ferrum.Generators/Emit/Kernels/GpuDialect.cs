using System;
using Ferrum.Generators.Emit.Metal;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// What differs between OpenCL C and MSL in the MoE programs, whose kernels are written once for both
/// (<see cref="GpuMoeTemplates"/>: routing, grouping, combine, dequantization; <see cref="GpuFormatTemplates"/>: the
/// mat-vecs, prefill tiles and dense entry point; <see cref="GpuFormatHelpers"/>: the per-format decode functions):
/// address-space qualifiers, the size type, the barrier, the row-block reduction (local memory vs simd_sum), the
/// inline qualifier, the decode expressions' loads, where sizes come from (arguments vs the argument block), and each
/// kernel's head (qualifiers, attributes, parameter passing) with the prologue that binds the template's plain names
/// (scalars, weights, thread and group ids). Everything else in a shared kernel body is the same text in both dialects.
/// </summary>
internal sealed record GpuDialect
{
    /// <summary>Dialect name, for messages and tests.</summary>
    public required string Name { get; init; }

    /// <summary>Device-memory address space: <c>__global</c> / <c>device</c>.</summary>
    public required string Global { get; init; }

    /// <summary>Work-group memory address space: <c>__local</c> / <c>threadgroup</c>.</summary>
    public required string Local { get; init; }

    /// <summary>Unsigned size type of buffer offsets: <c>size_t</c> / <c>ulong</c>.</summary>
    public required string Size { get; init; }

    /// <summary>Work-group barrier over work-group memory.</summary>
    public required string Barrier { get; init; }

    /// <summary>Program-scope constant tables: <c>__constant</c> / <c>constant</c>.</summary>
    public required string Constant { get; init; }

    /// <summary>Qualifier of helper functions: <c>inline</c> / <c>static inline</c>.</summary>
    public required string Inline { get; init; }

    /// <summary>Prints the decode expressions (loads, bit casts) in this dialect.</summary>
    public required Func<string, string, string, string, CLikeExprPrinter> ExprPrinter { get; init; }

    /// <summary>Text at the very top of every program (MSL: the include and the argument block).</summary>
    public required string ProgramPrologue { get; init; }

    /// <summary>Defaults of the format-independent kernels' #defines (the host prepends its own).</summary>
    public required string RouteDefaults { get; init; }

    /// <summary>Default threads per row block of the mat-vecs (MSL: the SIMD width, which simd_sum requires).</summary>
    public required string ThreadsPerRowDefault { get; init; }

    /// <summary>Defines FERRUM_ROW_SUM(v): the sum over a row block's FERRUM_TPR threads.</summary>
    public required string RowSum { get; init; }

    /// <summary>Work-group memory FERRUM_ROW_SUM needs, declared first in a mat-vec body (MSL: none).</summary>
    public required string RowScratch { get; init; }

    /// <summary>Where a generic program reads the weight matrix's rows, row length, experts and top-k from.</summary>
    public required (string Rows, string K, string Experts, string TopK) SizeSource { get; init; }

    /// <summary>Head of the gate||up mat-vec (<c>{F}</c>: the format).</summary>
    public required string GateUpVecHead { get; init; }

    /// <summary>Binds gate_w, up_w, stride_w, has_bias, lid, block, pair.</summary>
    public required string GateUpVecPrologue { get; init; }

    /// <summary>Head of the down + weighted-sum mat-vec.</summary>
    public required string DownVecHead { get; init; }

    /// <summary>Binds down_w, stride_w, has_bias, accumulate, lid, block, t.</summary>
    public required string DownVecPrologue { get; init; }

    /// <summary>Head of the prefill gate||up tile kernel.</summary>
    public required string GateUpTileHead { get; init; }

    /// <summary>Binds gate_w, up_w, stride_w, has_bias, max_per_expert, e, j0, r0, lr, lt.</summary>
    public required string GateUpTilePrologue { get; init; }

    /// <summary>Head of the prefill down tile kernel.</summary>
    public required string DownTileHead { get; init; }

    /// <summary>Binds down_w, stride_w, has_bias, max_per_expert, e, j0, r0, lr, lt.</summary>
    public required string DownTilePrologue { get; init; }

    /// <summary>Head of the dense entry point (<c>{ENTRY}</c>: its name, <c>{DENSE_SIZES}</c>: the size parameters of a generic one).</summary>
    public required string DenseHead { get; init; }

    /// <summary>The size parameters (rows_arg, row_length_arg, batch_arg) of a generic dense entry point.</summary>
    public required string DenseSizeParameters { get; init; }

    /// <summary>Binds r and b.</summary>
    public required string DensePrologue { get; init; }

    /// <summary>Threads of the routing work-group, as an expression of the host's #defines.</summary>
    public required string RouteThreads { get; init; }

    /// <summary>Reinterprets a float's bits as a uint: <c>as_uint</c> / <c>as_type&lt;uint&gt;</c>.</summary>
    public required string AsUint { get; init; }

    /// <summary>Head (qualifiers, attributes, name, parameters) of the routing kernel.</summary>
    public required string RouteHead { get; init; }

    /// <summary>Binds the routing body's names (t, lid and the scalar arguments).</summary>
    public required string RoutePrologue { get; init; }

    /// <summary>Head of the grouping kernel (pairs listed by expert, ggml's map0).</summary>
    public required string GroupHead { get; init; }

    /// <summary>Binds the grouping body's names (e, n_experts, n_pairs, max_per_expert).</summary>
    public required string GroupPrologue { get; init; }

    /// <summary>Head of the combine kernel (sum over slots).</summary>
    public required string CombineHead { get; init; }

    /// <summary>Binds the combine body's names (hh, t, h, topk, n_tokens).</summary>
    public required string CombinePrologue { get; init; }

    /// <summary>Head of the dequantization kernel (<c>{F}</c> stands for the format's name).</summary>
    public required string DequantHead { get; init; }

    /// <summary>Binds the dequantization body's names (k, n).</summary>
    public required string DequantPrologue { get; init; }

    /// <summary>OpenCL C 1.2: scalar kernel arguments, ids from get_group_id/get_local_id.</summary>
    public static GpuDialect OpenCL { get; } = new()
    {
        Name = "OpenCL C",
        Global = "__global",
        Local = "__local",
        Size = "size_t",
        Barrier = "barrier(CLK_LOCAL_MEM_FENCE)",
        Constant = "__constant",
        Inline = "inline",
        ExprPrinter = (b, e, s, l) => new OpenCLExprPrinter(b, e, s, l),
        ProgramPrologue = string.Empty,
        RouteDefaults = """
            #ifndef FERRUM_ROUTE_WG
            #define FERRUM_ROUTE_WG 64
            #endif
            #ifndef FERRUM_MAX_EXPERTS
            #define FERRUM_MAX_EXPERTS 512
            #endif
            #ifndef FERRUM_MAX_TOPK
            #define FERRUM_MAX_TOPK 64
            #endif

            """,
        ThreadsPerRowDefault = "16",
        RowSum = """
            // OpenCL 1.2 has no sub-group functions: a tree in local memory (red, declared first in the kernel), over
            // FERRUM_TPR (a power of two) work-items; lane = lid % FERRUM_TPR.
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
            #define FERRUM_ROW_SUM(v) ferrum_row_sum(red, lid, lane, (v))
            """,
        RowScratch = "    __local float red[FERRUM_WG];",
        SizeSource = ("rows_arg", "k_arg", "e_arg", "topk_arg"),
        GateUpVecHead = """
            __kernel __attribute__((reqd_work_group_size(FERRUM_WG, 1, 1)))
            void ferrum_moe_gate_up_vec_{F}(
                const __global uchar* gate, const ulong gate_offset,
                const __global uchar* up, const ulong up_offset, const ulong expert_stride,
                const __global float* x, const __global int* ids, __global float* act,
                const __global float* gate_bias, const __global float* up_bias,
                const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int has_bias)
            """,
        GateUpVecPrologue = """
                const __global uchar* gate_w = gate + gate_offset;
                const __global uchar* up_w = up + up_offset;
                const ulong stride_w = expert_stride;
                const int lid = get_local_id(0);
                const int block = get_group_id(0);
                const int pair = get_group_id(1);
            """,
        DownVecHead = """
            __kernel __attribute__((reqd_work_group_size(FERRUM_WG, 1, 1)))
            void ferrum_moe_down_vec_{F}(
                const __global uchar* down, const ulong down_offset, const ulong expert_stride,
                const __global float* act, const __global int* ids, const __global float* weights, __global float* out,
                const __global float* down_bias,
                const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int has_bias, const int accumulate)
            """,
        DownVecPrologue = """
                const __global uchar* down_w = down + down_offset;
                const ulong stride_w = expert_stride;
                const int lid = get_local_id(0);
                const int block = get_group_id(0);
                const int t = get_group_id(1);
            """,
        GateUpTileHead = """
            __kernel __attribute__((reqd_work_group_size(FERRUM_TR, FERRUM_TT, 1)))
            void ferrum_moe_gate_up_tile_{F}(
                const __global uchar* gate, const ulong gate_offset,
                const __global uchar* up, const ulong up_offset, const ulong expert_stride,
                const __global float* x, const __global int* counts, const __global int* lists, const __global int* tiles, __global float* act,
                const __global float* gate_bias, const __global float* up_bias,
                const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int max_per_expert, const int has_bias)
            """,
        GateUpTilePrologue = """
                const __global uchar* gate_w = gate + gate_offset;
                const __global uchar* up_w = up + up_offset;
                const ulong stride_w = expert_stride;
                // tiles[] lists (expert, first routed token) of every non-empty token tile, so no group idles.
                const int e = tiles[2 * get_group_id(1)];
                const int j0 = tiles[2 * get_group_id(1) + 1];
                const int r0 = get_group_id(0) * FERRUM_TR;
                const int lr = get_local_id(0);
                const int lt = get_local_id(1);
            """,
        DownTileHead = """
            __kernel __attribute__((reqd_work_group_size(FERRUM_TR, FERRUM_TT, 1)))
            void ferrum_moe_down_tile_{F}(
                const __global uchar* down, const ulong down_offset, const ulong expert_stride,
                const __global float* act, const __global int* counts, const __global int* lists, const __global int* tiles,
                const __global float* weights, __global float* y, const __global float* down_bias,
                const int rows_arg, const int k_arg, const int e_arg, const int topk_arg, const int max_per_expert, const int has_bias)
            """,
        DownTilePrologue = """
                const __global uchar* down_w = down + down_offset;
                const ulong stride_w = expert_stride;
                // tiles[] lists (expert, first routed token) of every non-empty token tile, so no group idles.
                const int e = tiles[2 * get_group_id(1)];
                const int j0 = tiles[2 * get_group_id(1) + 1];
                const int r0 = get_group_id(0) * FERRUM_TR;
                const int lr = get_local_id(0);
                const int lt = get_local_id(1);
            """,
        DenseHead = """
            __kernel void {ENTRY}(
                const __global uchar* weights, const ulong row_stride, const __global float* input, __global float* output{DENSE_SIZES})
            """,
        DenseSizeParameters = """
            ,
                const int rows_arg, const int row_length_arg, const int batch_arg
            """,
        DensePrologue = """
                const int r = get_global_id(0);
                const int b = get_global_id(1);
            """,
        RouteThreads = "FERRUM_ROUTE_WG",
        AsUint = "as_uint",
        RouteHead = """
            __kernel __attribute__((reqd_work_group_size(FERRUM_ROUTE_WG, 1, 1)))
            void ferrum_moe_route(
                const __global float* x, const __global float* router, const __global float* selection_bias, const int has_selection_bias,
                const __global float* router_bias, const int has_router_bias, const __global float* shexp_inp, const int has_shexp_inp,
                __global int* ids, __global float* weights, __global float* shared_w,
                const int h, const int n_experts, const int topk, const int gating, const int norm, const float scale,
                const int n_groups, const int groups_used)
            """,
        RoutePrologue = """
                const int t = get_group_id(0);
                const int lid = get_local_id(0);
            """,
        GroupHead = """
            __kernel void ferrum_moe_group(
                const __global int* ids, const int n_pairs, const int n_experts, const int max_per_expert,
                __global int* counts, __global int* lists)
            """,
        GroupPrologue = """
                const int e = get_global_id(0);
            """,
        CombineHead = """
            __kernel void ferrum_moe_combine(const __global float* y, __global float* out, const int h, const int topk, const int n_tokens)
            """,
        CombinePrologue = """
                const int hh = get_global_id(0);
                const int t = get_global_id(1);
            """,
        DequantHead = """
            __kernel void ferrum_dequant_{F}(const __global uchar* src, __global float* dst, const int n)
            """,
        DequantPrologue = """
                const int k = get_global_id(0);
            """,
    };

    /// <summary>MSL: buffers by [[buffer]] index, scalars from the ferrum_moe_args block, ids from attributes.</summary>
    public static GpuDialect Metal { get; } = new()
    {
        Name = "MSL",
        Global = "device",
        Local = "threadgroup",
        Size = "ulong",
        Barrier = "threadgroup_barrier(mem_flags::mem_threadgroup)",
        Constant = "constant",
        Inline = "static inline",
        ExprPrinter = (b, e, s, l) => new MetalExprPrinter(b, e, s, l),
        ProgramPrologue = """
            #include <metal_stdlib>
            using namespace metal;

            // Every kernel binds this at buffer index 0 (setBytes). Same layout as Ferrum.Backends.Metal.MetalMoeArgs.
            struct ferrum_moe_args
            {
                ulong stride_gate_up;   // bytes from one expert to the next in the gate and up stacks
                ulong stride_down;      // bytes from one expert to the next in the down stack
                ulong reserved0;        // unused (keeps the layout)
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


            """,
        RouteDefaults = """
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

            """,
        ThreadsPerRowDefault = "32",
        RowSum = """
            // A row block is one simdgroup: simd_sum.
            #if FERRUM_TPR != 32
            #error "FERRUM_TPR must be 32, the SIMD width simd_sum reduces over"
            #endif
            #define FERRUM_ROW_SUM(v) simd_sum(v)
            """,
        RowScratch = string.Empty,
        SizeSource = ("(args.rows)", "(args.k)", "(args.n_experts)", "(args.topk)"),
        GateUpVecHead = """
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
                ushort tiitg [[thread_index_in_threadgroup]])
            """,
        GateUpVecPrologue = """
                device const uchar* gate_w = gate;
                device const uchar* up_w = up;
                const ulong stride_w = args.stride_gate_up;
                const int has_bias = args.has_expert_bias;
                const int lid = (int)tiitg;
                const int block = (int)tgpig.x;
                const int pair = (int)tgpig.z;
            """,
        DownVecHead = """
            kernel void kernel_moe_mv_id_down_{F}(
                constant ferrum_moe_args& args [[buffer(0)]],
                device const uchar* down [[buffer(1)]],
                device const float* act [[buffer(2)]],
                device const int* ids [[buffer(3)]],
                device const float* weights [[buffer(4)]],
                device float* out [[buffer(5)]],
                device const float* down_bias [[buffer(6)]],
                uint3 tgpig [[threadgroup_position_in_grid]],
                ushort tiitg [[thread_index_in_threadgroup]])
            """,
        DownVecPrologue = """
                device const uchar* down_w = down;
                const ulong stride_w = args.stride_down;
                const int has_bias = args.has_down_bias;
                const int accumulate = args.accumulate;
                const int lid = (int)tiitg;
                const int block = (int)tgpig.x;
                const int t = (int)tgpig.y;
            """,
        GateUpTileHead = """
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
                ushort2 tpitg [[thread_position_in_threadgroup]])
            """,
        GateUpTilePrologue = """
                device const uchar* gate_w = gate;
                device const uchar* up_w = up;
                const ulong stride_w = args.stride_gate_up;
                const int has_bias = args.has_expert_bias;
                const int max_per_expert = args.max_per_expert;
                // The grid covers every expert's possible token tiles; the empty ones return at once.
                const int e = (int)tgpig.z;
                const int j0 = (int)tgpig.y * FERRUM_TT;
                const int r0 = (int)tgpig.x * FERRUM_TR;
                const int lr = (int)tpitg.x;
                const int lt = (int)tpitg.y;
            """,
        DownTileHead = """
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
                ushort2 tpitg [[thread_position_in_threadgroup]])
            """,
        DownTilePrologue = """
                device const uchar* down_w = down;
                const ulong stride_w = args.stride_down;
                const int has_bias = args.has_down_bias;
                const int max_per_expert = args.max_per_expert;
                // The grid covers every expert's possible token tiles; the empty ones return at once.
                const int e = (int)tgpig.z;
                const int j0 = (int)tgpig.y * FERRUM_TT;
                const int r0 = (int)tgpig.x * FERRUM_TR;
                const int lr = (int)tpitg.x;
                const int lt = (int)tpitg.y;
            """,
        DenseHead = """
            kernel void {ENTRY}(
                device const uchar* weights [[buffer(0)]],
                constant ulong& row_stride [[buffer(1)]],
                device const float* input [[buffer(2)]],
                device float* output [[buffer(3)]],{DENSE_SIZES}
                uint2 gid [[thread_position_in_grid]])
            """,
        DenseSizeParameters = """

                constant int& rows_arg [[buffer(4)]],
                constant int& row_length_arg [[buffer(5)]],
                constant int& batch_arg [[buffer(6)]],
            """,
        DensePrologue = """
                const int r = (int)gid.x;
                const int b = (int)gid.y;
            """,
        RouteThreads = "(32 * FERRUM_ROUTE_NSG)",
        AsUint = "as_type<uint>",
        RouteHead = """
            kernel void kernel_moe_route(
                constant ferrum_moe_args& args [[buffer(0)]],
                device const float* x [[buffer(1)]],
                device const float* router [[buffer(2)]],
                device const float* router_bias [[buffer(3)]],
                device const float* selection_bias [[buffer(4)]],
                device int* ids [[buffer(5)]],
                device float* weights [[buffer(6)]],
                device const float* shexp_inp [[buffer(7)]],
                device float* shared_w [[buffer(8)]],
                uint3 tgpig [[threadgroup_position_in_grid]],
                uint tiitg [[thread_index_in_threadgroup]])
            """,
        RoutePrologue = """
                const int t = (int)tgpig.x;
                const int lid = (int)tiitg;
                const int h = args.h;
                const int n_experts = args.n_experts;
                const int topk = args.topk;
                const int gating = args.gating;
                const int norm = args.norm;
                const float scale = args.scale;
                const int n_groups = args.n_groups;
                const int groups_used = args.groups_used;
                const int has_router_bias = args.has_router_bias;
                const int has_selection_bias = args.has_selection_bias;
                const int has_shexp_inp = args.has_shexp_inp;
            """,
        GroupHead = """
            kernel void kernel_moe_map0(
                constant ferrum_moe_args& args [[buffer(0)]],
                device const int* ids [[buffer(1)]],
                device int* counts [[buffer(2)]],
                device int* lists [[buffer(3)]],
                uint gid [[thread_position_in_grid]])
            """,
        GroupPrologue = """
                const int e = (int)gid;
                const int n_experts = args.n_experts;
                const int n_pairs = args.n_tokens * args.topk;
                const int max_per_expert = args.max_per_expert;
            """,
        CombineHead = """
            kernel void kernel_moe_combine(
                constant ferrum_moe_args& args [[buffer(0)]],
                device const float* y [[buffer(1)]],
                device float* out [[buffer(2)]],
                uint2 gid [[thread_position_in_grid]])
            """,
        CombinePrologue = """
                const int hh = (int)gid.x;
                const int t = (int)gid.y;
                const int h = args.h;
                const int topk = args.topk;
                const int n_tokens = args.n_tokens;
            """,
        DequantHead = """
            kernel void kernel_moe_dequant_{F}(
                constant ferrum_moe_args& args [[buffer(0)]],
                device const uchar* src [[buffer(1)]],
                device float* dst [[buffer(2)]],
                uint gid [[thread_position_in_grid]])
            """,
        DequantPrologue = """
                const int k = (int)gid;
                const int n = args.k;
            """,
    };
}
