namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// What differs between OpenCL C and MSL in the format-independent kernels (routing, grouping, combine) and the
/// dequantization kernel, which are written once for both (<see cref="GpuMoeTemplates"/>):
/// address-space qualifiers, the size type, the threadgroup barrier, and each kernel's head (qualifiers, attributes,
/// parameter passing) with the prologue that binds the template's plain names (scalars, thread and group ids).
/// Everything else in a shared kernel body is the same text in both dialects.
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

    /// <summary>Threads of the routing work-group, as an expression of the host's #defines.</summary>
    public required string RouteThreads { get; init; }

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
        RouteThreads = "FERRUM_ROUTE_WG",
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
        RouteThreads = "(32 * FERRUM_ROUTE_NSG)",
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
