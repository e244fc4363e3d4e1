using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends.Metal;

/// <summary>The steps of one Metal MoE forward pass.</summary>
public enum MetalMoeStep
{
    /// <summary>kernel_moe_route: logits, gating, top-k, weights.</summary>
    Route,

    /// <summary>kernel_moe_mv_id_gate_up_{fmt}: decode path, one threadgroup row block per (token, slot).</summary>
    GateUpVector,

    /// <summary>kernel_moe_mv_id_down_{fmt}: decode path, down and the weighted sum.</summary>
    DownVector,

    /// <summary>kernel_moe_map0: pairs grouped by expert (prefill).</summary>
    Map,

    /// <summary>kernel_moe_mm_id_gate_up_{fmt}: prefill tiles.</summary>
    GateUpTile,

    /// <summary>kernel_moe_mm_id_down_{fmt}: prefill tiles, weighted.</summary>
    DownTile,

    /// <summary>kernel_moe_combine: sum of each token's weighted slots.</summary>
    Combine,

    /// <summary>kernel_moe_mv_id_gate_up_{fmt} of the shared expert's format: the shared expert as a one-expert top-1 block.</summary>
    SharedGateUp,

    /// <summary>kernel_moe_mv_id_down_{fmt} of the shared expert's format, weighted by the shared gate and added onto the output.</summary>
    SharedDown,
}

/// <summary>A layer's shared expert as the plan sees it: its width and the formats of its gate/up and down.</summary>
public sealed record MetalSharedExpert(int Ffn, GgmlType GateUp, GgmlType Down);

/// <summary>
/// One dispatch: kernel function, threadgroups, threads per threadgroup, and the weight matrix shape it reads
/// (<see cref="MetalMoeArgs.Rows"/> × <see cref="MetalMoeArgs.K"/>: gate/up F×H, down H×F; 0 for the other steps).
/// </summary>
public sealed record MetalDispatch(MetalMoeStep Step, string Function, MTLSize Threadgroups, MTLSize ThreadsPerThreadgroup, int Rows = 0, int K = 0)
{
    /// <summary>The argument block of this dispatch: <paramref name="common"/> with this dispatch's matrix shape.</summary>
    public MetalMoeArgs ArgsFrom(MetalMoeArgs common)
    {
        common.Rows = Rows;
        common.K = K;
        if (Step is MetalMoeStep.SharedGateUp or MetalMoeStep.SharedDown)
        {
            // One expert, top-1, no expert biases; every token's id is 0 and its weight the shared gate.
            common.NExperts = 1;
            common.Topk = 1;
            common.StrideGateUp = 0;
            common.StrideDown = 0;
            common.HasExpertBias = 0;
            common.HasDownBias = 0;
            common.Accumulate = Step == MetalMoeStep.SharedDown ? 1 : 0;
        }

        return common;
    }
}

/// <summary>
/// Grid sizes of the generated Metal MoE kernels (pure arithmetic, checked on every OS): the mat-vec kernels take
/// <see cref="RowsPerSimdgroup"/> rows per simdgroup and <see cref="SimdgroupsPerThreadgroup"/> simdgroups per
/// threadgroup, ggml's kernel_mul_mv_id arrangement; from <see cref="PrefillTokens"/> tokens on the prefill tiles
/// are used (ggml switches to kernel_mul_mm_id at 32 tokens too).
/// </summary>
public static class MetalMoePlan
{
    /// <summary>Rows per simdgroup in the mat-vec kernels (FERRUM_NR).</summary>
    public const int RowsPerSimdgroup = 2;

    /// <summary>Simdgroups per threadgroup in the mat-vec kernels (FERRUM_RPG: row blocks of FERRUM_TPR = 32 threads).</summary>
    public const int SimdgroupsPerThreadgroup = 2;

    /// <summary>SIMD width the kernels assume (FERRUM_TPR: a row block is one simdgroup).</summary>
    public const int SimdWidth = 32;

    /// <summary>K step of the prefill tiles (FERRUM_KC); row lengths and row counts are multiples of it.</summary>
    public const int Tile = 32;

    /// <summary>Weight rows of a prefill tile (FERRUM_TR): the threadgroup's x size.</summary>
    public const int TileRows = 16;

    /// <summary>Routed tokens of a prefill tile (FERRUM_TT): the threadgroup's y size.</summary>
    public const int TileTokens = 16;

    /// <summary>Threads of a prefill tile threadgroup.</summary>
    public const int TileThreads = TileRows * TileTokens;

    /// <summary>Simdgroups of the routing threadgroup (FERRUM_ROUTE_NSG).</summary>
    public const int RouteSimdgroups = 4;

    /// <summary>Most experts the routing kernel holds (FERRUM_MAX_EXPERTS).</summary>
    public const int MaxExperts = 512;

    /// <summary>Most experts per token the routing kernel holds (FERRUM_MAX_TOPK).</summary>
    public const int MaxTopK = 32;

    /// <summary>Most expert groups the group-limited selection holds (FERRUM_MAX_GROUPS).</summary>
    public const int MaxGroups = 64;

    /// <summary>Token count from which the prefill tile kernels are used.</summary>
    public const int PrefillTokens = 32;

    /// <summary>The #defines the host puts in front of every program, so the grid math here and the kernels agree.</summary>
    public static string Defines(bool oaiActivation) =>
        $"#define FERRUM_TPR {SimdWidth}\n#define FERRUM_NR {RowsPerSimdgroup}\n#define FERRUM_RPG {SimdgroupsPerThreadgroup}\n" +
        $"#define FERRUM_TR {TileRows}\n#define FERRUM_TT {TileTokens}\n#define FERRUM_KC {Tile}\n#define FERRUM_ACT_OAI {(oaiActivation ? 1 : 0)}\n" +
        $"#define FERRUM_ROUTE_NSG {RouteSimdgroups}\n#define FERRUM_MAX_EXPERTS {MaxExperts}\n#define FERRUM_MAX_TOPK {MaxTopK}\n#define FERRUM_MAX_GROUPS {MaxGroups}\n";

    /// <summary>Kernel function of a step for the given weight formats.</summary>
    public static string Function(MetalMoeStep step, GgmlType gateUp, GgmlType down, MetalSharedExpert? shared = null) => step switch
    {
        MetalMoeStep.SharedGateUp => "kernel_moe_mv_id_gate_up_" + GgmlTypeInfo.Get((shared ?? throw new ArgumentNullException(nameof(shared))).GateUp).Name,
        MetalMoeStep.SharedDown => "kernel_moe_mv_id_down_" + GgmlTypeInfo.Get((shared ?? throw new ArgumentNullException(nameof(shared))).Down).Name,
        MetalMoeStep.Route => "kernel_moe_route",
        MetalMoeStep.GateUpVector => "kernel_moe_mv_id_gate_up_" + GgmlTypeInfo.Get(gateUp).Name,
        MetalMoeStep.DownVector => "kernel_moe_mv_id_down_" + GgmlTypeInfo.Get(down).Name,
        MetalMoeStep.Map => "kernel_moe_map0",
        MetalMoeStep.GateUpTile => "kernel_moe_mm_id_gate_up_" + GgmlTypeInfo.Get(gateUp).Name,
        MetalMoeStep.DownTile => "kernel_moe_mm_id_down_" + GgmlTypeInfo.Get(down).Name,
        MetalMoeStep.Combine => "kernel_moe_combine",
        _ => throw new ArgumentOutOfRangeException(nameof(step)),
    };

    /// <summary>
    /// The buffers a step binds, by index (index 0 is always the <see cref="MetalMoeArgs"/> block): the names are the
    /// kernel's parameter names in the generated MSL, which a test checks against the printed signatures, except in the
    /// shared-expert steps, which bind the shared expert's buffers (shared_gate, zero_ids, shared_act, shared_w, ...) to
    /// the mat-vec kernels' parameters (gate, ids, act, weights, ...).
    /// </summary>
    public static IReadOnlyList<string> Bindings(MetalMoeStep step) => step switch
    {
        MetalMoeStep.Route => ["args", "x", "router", "router_bias", "selection_bias", "ids", "weights", "shexp_inp", "shared_w"],
        MetalMoeStep.SharedGateUp => ["args", "shared_gate", "shared_up", "x", "zero_ids", "shared_act", "gate_bias", "up_bias"],
        MetalMoeStep.SharedDown => ["args", "shared_down", "shared_act", "zero_ids", "shared_w", "out", "down_bias"],
        MetalMoeStep.GateUpVector => ["args", "gate", "up", "x", "ids", "act", "gate_bias", "up_bias"],
        MetalMoeStep.DownVector => ["args", "down", "act", "ids", "weights", "out", "down_bias"],
        MetalMoeStep.Map => ["args", "ids", "counts", "lists"],
        MetalMoeStep.GateUpTile => ["args", "gate", "up", "x", "counts", "lists", "act", "gate_bias", "up_bias"],
        MetalMoeStep.DownTile => ["args", "down", "act", "counts", "lists", "weights", "y", "down_bias"],
        MetalMoeStep.Combine => ["args", "y", "out"],
        _ => throw new ArgumentOutOfRangeException(nameof(step)),
    };

    /// <summary>The argument block shared by every dispatch of one forward pass over <paramref name="tokens"/> tokens of <paramref name="layer"/> (each dispatch adds its matrix shape).</summary>
    public static MetalMoeArgs Args(MoeLayer layer, int tokens)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var routing = layer.Routing;
        return new MetalMoeArgs
        {
            StrideGateUp = (ulong)layer.Gate.ExpertStride,
            StrideDown = (ulong)layer.Down.ExpertStride,
            H = layer.Hidden,
            F = layer.ExpertFfn,
            NExperts = layer.Experts,
            Topk = routing.ExpertsPerToken,
            NTokens = tokens,
            MaxPerExpert = tokens,
            Gating = (int)routing.Gating,
            Norm = routing.NormalizeWeights ? 1 : 0,
            Scale = routing.WeightScale,
            HasRouterBias = layer.RouterBias != null ? 1 : 0,
            HasSelectionBias = layer.SelectionBias != null ? 1 : 0,
            NGroups = routing.ExpertGroupCount,
            GroupsUsed = routing.ExpertGroupsUsed,
            HasExpertBias = layer.GateBias != null ? 1 : 0,
            HasDownBias = layer.DownBias != null ? 1 : 0,
            HasShexpInp = layer.SharedGateInput != null ? 1 : 0,
        };
    }

    /// <summary>Bytes of a per-call buffer (a name from <see cref="Bindings"/> that is not a weight) for <paramref name="tokens"/> tokens.</summary>
    public static long ScratchBytes(string name, int tokens, int hidden, int ffn, int experts, int topK, int sharedFfn = 0)
    {
        long pairs = (long)tokens * topK;
        return name switch
        {
            "shared_w" or "zero_ids" => (long)tokens * 4,
            "shared_act" => (long)tokens * Math.Max(sharedFfn, 1) * 4,
            "x" or "out" => (long)tokens * hidden * 4,
            "ids" or "weights" => pairs * 4,
            "act" => pairs * ffn * 4,
            "y" => pairs * hidden * 4,
            "counts" => (long)experts * 4,
            "lists" => (long)experts * tokens * 4,
            _ => throw new ArgumentException($"'{name}' is not a per-call buffer", nameof(name)),
        };
    }

    /// <summary>The dispatches of one forward pass over <paramref name="tokens"/> tokens.</summary>
    public static IReadOnlyList<MetalDispatch> Build(int hidden, int ffn, int experts, int topK, int tokens, GgmlType gateUp, GgmlType down, MetalSharedExpert? shared = null)
    {
        var list = BuildRouted(hidden, ffn, experts, topK, tokens, gateUp, down);
        if (shared is null)
        {
            return list;
        }

        // The shared expert after the routed output is complete (decode and prefill alike): the mat-vec kernels of its
        // own programs, one "pair" per token.
        var rowsPerGroup = RowsPerSimdgroup * SimdgroupsPerThreadgroup;
        var vec = MTLSize.Of(SimdWidth * SimdgroupsPerThreadgroup);
        var all = list.ToList();
        all.Add(new(MetalMoeStep.SharedGateUp, Function(MetalMoeStep.SharedGateUp, gateUp, down, shared), MTLSize.Of(Ceil(shared.Ffn, rowsPerGroup), 1, tokens), vec, shared.Ffn, hidden));
        all.Add(new(MetalMoeStep.SharedDown, Function(MetalMoeStep.SharedDown, gateUp, down, shared), MTLSize.Of(Ceil(hidden, rowsPerGroup), tokens), vec, hidden, shared.Ffn));
        return all;
    }

    private static IReadOnlyList<MetalDispatch> BuildRouted(int hidden, int ffn, int experts, int topK, int tokens, GgmlType gateUp, GgmlType down)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        if (experts > MaxExperts || topK > MaxTopK || topK > experts || topK <= 0)
        {
            throw new NotSupportedException($"Metal routing supports up to {MaxExperts} experts and top-{MaxTopK} (got {experts} experts, top-{topK})");
        }

        var rowsPerGroup = RowsPerSimdgroup * SimdgroupsPerThreadgroup;
        var vec = MTLSize.Of(SimdWidth * SimdgroupsPerThreadgroup);
        var list = new List<MetalDispatch>
        {
            new(MetalMoeStep.Route, Function(MetalMoeStep.Route, gateUp, down), MTLSize.Of(tokens), MTLSize.Of(SimdWidth * RouteSimdgroups)),
        };
        if (tokens < PrefillTokens)
        {
            list.Add(new(MetalMoeStep.GateUpVector, Function(MetalMoeStep.GateUpVector, gateUp, down), MTLSize.Of(Ceil(ffn, rowsPerGroup), 1, (long)tokens * topK), vec, ffn, hidden));
            list.Add(new(MetalMoeStep.DownVector, Function(MetalMoeStep.DownVector, gateUp, down), MTLSize.Of(Ceil(hidden, rowsPerGroup), tokens), vec, hidden, ffn));
            return list;
        }

        // Tiles: (row tiles, token tiles, experts); an expert's token tiles past its routed count return at once.
        var tokenTiles = Ceil(tokens, TileTokens);
        var tile = MTLSize.Of(TileRows, TileTokens);
        list.Add(new(MetalMoeStep.Map, Function(MetalMoeStep.Map, gateUp, down), MTLSize.Of(Ceil(experts, 64)), MTLSize.Of(64)));
        list.Add(new(MetalMoeStep.GateUpTile, Function(MetalMoeStep.GateUpTile, gateUp, down), MTLSize.Of(Ceil(ffn, TileRows), tokenTiles, experts), tile, ffn, hidden));
        list.Add(new(MetalMoeStep.DownTile, Function(MetalMoeStep.DownTile, gateUp, down), MTLSize.Of(Ceil(hidden, TileRows), tokenTiles, experts), tile, hidden, ffn));
        list.Add(new(MetalMoeStep.Combine, Function(MetalMoeStep.Combine, gateUp, down), MTLSize.Of(Ceil(hidden, 64), tokens), MTLSize.Of(64)));
        return list;
    }

    private static long Ceil(long a, long b) => (a + b - 1) / b;
}
