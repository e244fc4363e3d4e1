using Ferrum.Quantization;

namespace Ferrum.Backends.OpenCL;

/// <summary>
/// One MoE FFN layer on an OpenCL device: route (router mat-vec, gating, top-k, renormalization) → gate||up with
/// act(gate)·up → down → routing-weighted sum, for 1..N tokens. Weight buffers are created once, when the layer is
/// created; scratch buffers grow with the largest token count seen. Not thread-safe (one in-order queue).
/// </summary>
public sealed partial class OpenCLMoeLayer : IDisposable
{
    private const int MaxExperts = 512;
    private const int MaxTopK = 64;
    private const int RouteGroup = 64;

    private readonly OpenCLContext _ctx;
    private readonly OpenCLProgram _gateUpProgram;
    private readonly OpenCLProgram _downProgram;
    private readonly OpenCLBuffer _gate;
    private readonly OpenCLBuffer _up;
    private readonly OpenCLBuffer _down;
    private readonly OpenCLBuffer _router;
    private readonly OpenCLBuffer? _bias;
    private readonly OpenCLExpertTensor _gateT;
    private readonly OpenCLExpertTensor _downT;
    private readonly OpenCLRouting _routing;
    private readonly OpenCLMoeOptions _options;
    private Scratch? _scratch;
    private bool _disposed;

    /// <summary>Creates the layer: validates shapes, builds (or loads cached) programs, creates the weight buffers.</summary>
    /// <param name="context">Device context.</param>
    /// <param name="sources">Generated program sources (the KernelSourceCatalog's OpenCL entries).</param>
    /// <param name="router">F32 router weights, <c>experts</c> rows of <c>hidden</c> (ffn_gate_inp.weight).</param>
    /// <param name="gate">ffn_gate_exps (or the gate half of ffn_gate_up_exps).</param>
    /// <param name="up">ffn_up_exps (or the up half).</param>
    /// <param name="down">ffn_down_exps.</param>
    /// <param name="topK">Experts per token.</param>
    /// <param name="routing">Gating and weight rules of the architecture.</param>
    /// <param name="options">Tuning; null for defaults.</param>
    public OpenCLMoeLayer(
        OpenCLContext context,
        OpenCLKernelSources sources,
        ReadOnlySpan<float> router,
        OpenCLExpertTensor gate,
        OpenCLExpertTensor up,
        OpenCLExpertTensor down,
        int topK,
        OpenCLRouting routing,
        OpenCLMoeOptions? options = null)
    {
        _ctx = context ?? throw new ArgumentNullException(nameof(context));
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(gate);
        ArgumentNullException.ThrowIfNull(up);
        ArgumentNullException.ThrowIfNull(down);
        _routing = routing ?? throw new ArgumentNullException(nameof(routing));
        _options = options ?? new OpenCLMoeOptions();
        Hidden = gate.RowLength;
        ExpertFfn = gate.Rows;
        Experts = gate.Experts;
        TopK = topK;
        Validate(gate, up, down, router.Length);
        _gateT = gate;
        _downT = down;

        var build = BuildOptions(context.Device, _options, Hidden, ExpertFfn);
        _gateUpProgram = FormatProgram(context, sources, gate.Type, ExpertFfn, Hidden, build);
        _downProgram = FormatProgram(context, sources, down.Type, Hidden, ExpertFfn, build);

        _gate = CreateWeights(gate);
        _up = CreateWeights(up);
        _down = CreateWeights(down);
        _router = context.CreateBuffer(router);
        _bias = routing.SelectionBias is null ? null : context.CreateBuffer<float>(routing.SelectionBias);
    }

    public int Hidden { get; }

    public int ExpertFfn { get; }

    public int Experts { get; }

    public int TopK { get; }

    /// <summary>True when every weight buffer wraps host memory (CPU device, memory that outlives the layer).</summary>
    public bool WeightsInPlace => _gate.WrapsHostMemory && _up.WrapsHostMemory && _down.WrapsHostMemory;

    /// <summary>Full layer: <paramref name="output"/>[t, :] = Σ_k w[t,k]·down_k(act(gate_k x_t)·up_k x_t), routed on the device.</summary>
    public void Forward(ReadOnlySpan<float> x, int tokens, Span<float> output, OpenCLMoePath path = OpenCLMoePath.Auto)
    {
        var s = Begin(x, tokens, output.Length, Hidden);
        RouteOnDevice(s, tokens);
        Experts_(s, tokens, path);
        _ctx.Read(s.Out, output[..(tokens * Hidden)]);
    }

    /// <summary>Routing only: the selected experts and their weights, token-major (<c>tokens × TopK</c>).</summary>
    public void Route(ReadOnlySpan<float> x, int tokens, Span<int> ids, Span<float> weights)
    {
        CheckLength(ids.Length, tokens * TopK, nameof(ids));
        CheckLength(weights.Length, tokens * TopK, nameof(weights));
        var s = Begin(x, tokens, tokens * Hidden, Hidden);
        RouteOnDevice(s, tokens);
        _ctx.Read(s.Ids, ids[..(tokens * TopK)]);
        _ctx.Read(s.Weights, weights[..(tokens * TopK)]);
    }

    /// <summary>The expert part with routing given by the caller (ids in [0, Experts), distinct per token).</summary>
    public void ForwardRouted(ReadOnlySpan<float> x, int tokens, ReadOnlySpan<int> ids, ReadOnlySpan<float> weights, Span<float> output, OpenCLMoePath path = OpenCLMoePath.Auto)
    {
        var s = Begin(x, tokens, output.Length, Hidden);
        UploadRouting(s, tokens, ids, weights);
        Experts_(s, tokens, path);
        _ctx.Read(s.Out, output[..(tokens * Hidden)]);
    }

    /// <summary>gate||up only: act[(t·TopK + k), :] = act(gate_e x_t)·up_e x_t for e = ids[t·TopK + k].</summary>
    internal void GateUp(ReadOnlySpan<float> x, int tokens, ReadOnlySpan<int> ids, Span<float> act, OpenCLMoePath path)
    {
        var s = Begin(x, tokens, act.Length, TopK * ExpertFfn);
        var ones = new float[tokens * TopK];
        Array.Fill(ones, 1f);
        UploadRouting(s, tokens, ids, ones);
        if (Tiled(tokens, path))
        {
            GateUpTiled(s, tokens, Group(s, tokens));
        }
        else
        {
            GateUpVec(s, tokens);
        }

        _ctx.Read(s.Act, act[..(tokens * TopK * ExpertFfn)]);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _gate.Dispose();
        _up.Dispose();
        _down.Dispose();
        _router.Dispose();
        _bias?.Dispose();
        _scratch?.Dispose();
    }

    /// <summary>Formats the generated OpenCL kernels decode (the generator's per-format descriptions).</summary>
    public static IReadOnlyList<GgmlType> SupportedFormats { get; } = Ferrum.Quantization.Formats.FormatRow.Types;

    private static bool FormatSupported(GgmlType t) => SupportedFormats.Contains(t);

    private static void CheckLength(int actual, int needed, string name)
    {
        if (actual < needed)
        {
            throw new ArgumentException($"{name} has {actual} elements, the layer needs {needed}", name);
        }
    }

    private static long Groups(long n, long per) => (n + per - 1) / per;

    /// <summary>The program specialized for rows × rowLength when generated, else the format's generic one.</summary>
    private static OpenCLProgram FormatProgram(OpenCLContext context, OpenCLKernelSources sources, GgmlType type, int rows, int rowLength, string build)
    {
        var text = sources(type, rows, rowLength);
        if (text is not null)
        {
            return context.BuildProgram(OpenCLProgramNames.Specialized(type, rows, rowLength), text, build);
        }

        var generic = OpenCLProgramNames.Generic(type);
        text = sources(type, 0, 0) ?? throw new OpenCLException(
            $"no generated OpenCL program '{generic}' for {GgmlTypeInfo.Get(type).Name} expert weights: add {GgmlTypeInfo.Get(type).Name} to kernels.yaml (targets: [opencl], and formats: or a model's roles)");
        return context.BuildProgram(generic, text, build);
    }

    /// <summary>The -D options the layer builds its programs with (geometry and activation).</summary>
    internal static string BuildOptions(OpenCLDevice device, OpenCLMoeOptions o, int hidden, int ffn)
    {
        var (tpr, rpg) = o.MatVecGeometry(device);
        if (tpr <= 0 || (tpr & (tpr - 1)) != 0)
        {
            throw new ArgumentException($"ThreadsPerRow {tpr} must be a power of two");
        }

        if (rpg <= 0 || o.TileRows <= 0 || o.TileTokens <= 0)
        {
            throw new ArgumentException("RowsPerGroup, TileRows and TileTokens must be positive");
        }

        var biggest = Math.Max(Math.Max(tpr * rpg, o.TileRows * o.TileTokens), RouteGroup);
        if (biggest > device.MaxWorkGroupSize)
        {
            throw new OpenCLException($"work-group size {biggest} exceeds {device.Name}'s maximum {device.MaxWorkGroupSize}: lower ThreadsPerRow×RowsPerGroup or TileRows×TileTokens");
        }

        // The tile kernels step K by kc elements: the largest of 128/64/32 dividing both reduction lengths whose
        // local tiles (gate, up and activations) fit the device's local memory.
        var kc = 32;
        foreach (var c in new[] { 128, 64 })
        {
            if (hidden % c == 0 && ffn % c == 0 && ((2L * o.TileRows) + o.TileTokens) * (c + 1) * 4 <= device.LocalMemorySize)
            {
                kc = c;
                break;
            }
        }

        return $"-cl-std=CL1.2 -D FERRUM_TPR={tpr} -D FERRUM_RPG={rpg} -D FERRUM_TR={o.TileRows} -D FERRUM_TT={o.TileTokens} -D FERRUM_KC={kc} -D FERRUM_ROUTE_WG={RouteGroup}"
            + (o.OaiSwiglu ? " -D FERRUM_ACT_OAI=1" : string.Empty);
    }

    private unsafe OpenCLBuffer CreateWeights(OpenCLExpertTensor t) => _ctx.CreateBuffer(t.Data, t.SpanBytes, t.HostMemoryOutlivesLayer);

    private void Validate(OpenCLExpertTensor gate, OpenCLExpertTensor up, OpenCLExpertTensor down, int routerLength)
    {
        foreach (var t in new[] { gate, up, down })
        {
            if (!FormatSupported(t.Type))
            {
                throw new NotSupportedException($"{GgmlTypeInfo.Get(t.Type).Name} expert weights are not supported by the OpenCL kernels (supported: {string.Join(", ", SupportedFormats.Select(x => GgmlTypeInfo.Get(x).Name))})");
            }
        }

        if (gate.Type != up.Type)
        {
            throw new ArgumentException($"gate ({GgmlTypeInfo.Get(gate.Type).Name}) and up ({GgmlTypeInfo.Get(up.Type).Name}) must share a format");
        }

        if (up.RowLength != Hidden || up.Rows != ExpertFfn || up.Experts != Experts)
        {
            throw new ArgumentException($"up is [{up.RowLength}, {up.Rows}, {up.Experts}], gate is [{Hidden}, {ExpertFfn}, {Experts}]");
        }

        if (down.RowLength != ExpertFfn || down.Rows != Hidden || down.Experts != Experts)
        {
            throw new ArgumentException($"down is [{down.RowLength}, {down.Rows}, {down.Experts}], expected [{ExpertFfn}, {Hidden}, {Experts}]");
        }

        foreach (var (t, name) in new[] { (gate, "gate"), (up, "up"), (down, "down") })
        {
            var info = GgmlTypeInfo.Get(t.Type);
            if (t.RowLength % info.BlockSize != 0 || t.RowLength % 32 != 0)
            {
                throw new ArgumentException($"{name} rows of {t.RowLength} elements are not a multiple of {Math.Max(32, info.BlockSize)} ({info.Name} blocks, 32-element kernel steps)");
            }

            if (t.ExpertStride < t.Rows * t.RowBytes)
            {
                throw new ArgumentException($"{name} expert stride {t.ExpertStride} is smaller than one expert ({t.Rows * t.RowBytes} bytes)");
            }
        }

        if (Experts > MaxExperts)
        {
            throw new ArgumentException($"{Experts} experts exceed the kernels' limit of {MaxExperts}");
        }

        if (TopK < 1 || TopK > Math.Min(MaxTopK, Experts))
        {
            throw new ArgumentOutOfRangeException("topK", TopK, $"top-k must be in [1, {Math.Min(MaxTopK, Experts)}]");
        }

        if (routerLength != Experts * Hidden)
        {
            throw new ArgumentException($"router has {routerLength} floats, expected experts×hidden = {Experts}×{Hidden}");
        }

        if (_routing.SelectionBias is { } b && b.Length != Experts)
        {
            throw new ArgumentException($"selection bias has {b.Length} values, expected {Experts}");
        }
    }

    private Scratch Begin(ReadOnlySpan<float> x, int tokens, int outputLength, int outputPerToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (tokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "at least one token");
        }

        CheckLength(x.Length, tokens * Hidden, nameof(x));
        CheckLength(outputLength, tokens * outputPerToken, "output");
        if (_scratch is null || _scratch.Tokens < tokens)
        {
            _scratch?.Dispose();
            _scratch = new Scratch(_ctx, tokens, Hidden, ExpertFfn, Experts, TopK);
        }

        _ctx.Write(_scratch.X, x[..(tokens * Hidden)]);
        return _scratch;
    }

    private void UploadRouting(Scratch s, int tokens, ReadOnlySpan<int> ids, ReadOnlySpan<float> weights)
    {
        CheckLength(ids.Length, tokens * TopK, nameof(ids));
        CheckLength(weights.Length, tokens * TopK, nameof(weights));
        for (var t = 0; t < tokens; t++)
        {
            for (var k = 0; k < TopK; k++)
            {
                var e = ids[(t * TopK) + k];
                if ((uint)e >= (uint)Experts)
                {
                    throw new ArgumentOutOfRangeException(nameof(ids), e, $"token {t} slot {k}: expert id {e} is not in [0, {Experts})");
                }

                for (var j = 0; j < k; j++)
                {
                    if (ids[(t * TopK) + j] == e)
                    {
                        throw new ArgumentException($"token {t} selects expert {e} twice (slots {j} and {k})", nameof(ids));
                    }
                }
            }
        }

        _ctx.Write(s.Ids, ids[..(tokens * TopK)]);
        _ctx.Write(s.Weights, weights[..(tokens * TopK)]);
    }

    private void RouteOnDevice(Scratch s, int tokens)
    {
        var k = _gateUpProgram.Kernel("ferrum_moe_route");
        uint i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        OpenCLLaunch.Arg(_ctx, k, i++, _router);
        OpenCLLaunch.Arg(_ctx, k, i++, _bias ?? _router);
        OpenCLLaunch.Arg(_ctx, k, i++, _bias is null ? 0 : 1);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Ids);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Weights);
        OpenCLLaunch.Arg(_ctx, k, i++, Hidden);
        OpenCLLaunch.Arg(_ctx, k, i++, Experts);
        OpenCLLaunch.Arg(_ctx, k, i++, TopK);
        OpenCLLaunch.Arg(_ctx, k, i++, (int)_routing.Gating);
        OpenCLLaunch.Arg(_ctx, k, i++, _routing.NormalizeWeights ? 1 : 0);
        OpenCLLaunch.Arg(_ctx, k, i, _routing.WeightsScale);
        OpenCLLaunch.Run(_ctx, k, "ferrum_moe_route", [(long)tokens * RouteGroup], [RouteGroup]);
    }

    private bool Tiled(int tokens, OpenCLMoePath path) =>
        path == OpenCLMoePath.Tiled || (path == OpenCLMoePath.Auto && tokens >= _options.TiledFromTokens);

    private void Experts_(Scratch s, int tokens, OpenCLMoePath path)
    {
        if (Tiled(tokens, path))
        {
            var tiles = Group(s, tokens);
            GateUpTiled(s, tokens, tiles);
            DownTiled(s, tokens, tiles);
            var c = _gateUpProgram.Kernel("ferrum_moe_combine");
            OpenCLLaunch.Arg(_ctx, c, 0, s.Y);
            OpenCLLaunch.Arg(_ctx, c, 1, s.Out);
            OpenCLLaunch.Arg(_ctx, c, 2, Hidden);
            OpenCLLaunch.Arg(_ctx, c, 3, TopK);
            OpenCLLaunch.Arg(_ctx, c, 4, tokens);
            OpenCLLaunch.Run(_ctx, c, "ferrum_moe_combine", [Hidden, tokens], default);
        }
        else
        {
            GateUpVec(s, tokens);
            DownVec(s, tokens);
        }
    }

    private string Fmt(GgmlType t) => GgmlTypeInfo.Get(t).Name;

    private void GateUpVec(Scratch s, int tokens)
    {
        var name = "ferrum_moe_gate_up_vec_" + Fmt(_gateT.Type);
        var k = _gateUpProgram.Kernel(name);
        uint i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, _gate);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, _up);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, (ulong)_gateT.ExpertStride);
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Ids);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Act);
        SizeArgs(k, ref i, ExpertFfn, Hidden);
        var (tpr, rpg) = _options.MatVecGeometry(_ctx.Device);
        OpenCLLaunch.Run(_ctx, k, name, [Groups(ExpertFfn, rpg) * tpr * rpg, (long)tokens * TopK], [tpr * rpg, 1]);
    }

    private void DownVec(Scratch s, int tokens)
    {
        var name = "ferrum_moe_down_vec_" + Fmt(_downT.Type);
        var k = _downProgram.Kernel(name);
        uint i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, _down);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, (ulong)_downT.ExpertStride);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Act);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Ids);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Weights);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Out);
        SizeArgs(k, ref i, Hidden, ExpertFfn);
        var (tpr, rpg) = _options.MatVecGeometry(_ctx.Device);
        OpenCLLaunch.Run(_ctx, k, name, [Groups(Hidden, rpg) * tpr * rpg, tokens], [tpr * rpg, 1]);
    }

    /// <summary>Groups pairs by expert on the device, then lists the non-empty token tiles; returns their number.</summary>
    private int Group(Scratch s, int tokens)
    {
        var k = _gateUpProgram.Kernel("ferrum_moe_group");
        OpenCLLaunch.Arg(_ctx, k, 0, s.Ids);
        OpenCLLaunch.Arg(_ctx, k, 1, tokens * TopK);
        OpenCLLaunch.Arg(_ctx, k, 2, Experts);
        OpenCLLaunch.Arg(_ctx, k, 3, tokens);
        OpenCLLaunch.Arg(_ctx, k, 4, s.Counts);
        OpenCLLaunch.Arg(_ctx, k, 5, s.Lists);
        OpenCLLaunch.Run(_ctx, k, "ferrum_moe_group", [Experts], default);

        // A few hundred bytes back to the host buys a grid without idle groups.
        var counts = new int[Experts];
        _ctx.Read<int>(s.Counts, counts);
        var tiles = new List<int>();
        for (var e = 0; e < Experts; e++)
        {
            for (var j = 0; j < counts[e]; j += _options.TileTokens)
            {
                tiles.Add(e);
                tiles.Add(j);
            }
        }

        if (tiles.Count > 0)
        {
            _ctx.Write<int>(s.Tiles, tiles.ToArray());
        }

        return tiles.Count / 2;
    }

    private void GateUpTiled(Scratch s, int tokens, int tiles)
    {
        var name = "ferrum_moe_gate_up_tile_" + Fmt(_gateT.Type);
        var k = _gateUpProgram.Kernel(name);
        uint i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, _gate);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, _up);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, (ulong)_gateT.ExpertStride);
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Counts);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Lists);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Tiles);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Act);
        SizeArgs(k, ref i, ExpertFfn, Hidden);
        OpenCLLaunch.Arg(_ctx, k, i, tokens);
        var tr = _options.TileRows;
        var tt = _options.TileTokens;
        if (tiles > 0)
        {
            OpenCLLaunch.Run(_ctx, k, name, [Groups(ExpertFfn, tr) * tr, (long)tiles * tt], [tr, tt]);
        }
    }

    private void DownTiled(Scratch s, int tokens, int tiles)
    {
        var name = "ferrum_moe_down_tile_" + Fmt(_downT.Type);
        var k = _downProgram.Kernel(name);
        uint i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, _down);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, (ulong)_downT.ExpertStride);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Act);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Counts);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Lists);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Tiles);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Weights);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Y);
        SizeArgs(k, ref i, Hidden, ExpertFfn);
        OpenCLLaunch.Arg(_ctx, k, i, tokens);
        var tr = _options.TileRows;
        var tt = _options.TileTokens;
        if (tiles > 0)
        {
            OpenCLLaunch.Run(_ctx, k, name, [Groups(Hidden, tr) * tr, (long)tiles * tt], [tr, tt]);
        }
    }

    /// <summary>rows, row length (of the matrix the kernel reads), experts, top-k.</summary>
    private void SizeArgs(nint kernel, ref uint i, int rows, int rowLength)
    {
        OpenCLLaunch.Arg(_ctx, kernel, i++, rows);
        OpenCLLaunch.Arg(_ctx, kernel, i++, rowLength);
        OpenCLLaunch.Arg(_ctx, kernel, i++, Experts);
        OpenCLLaunch.Arg(_ctx, kernel, i++, TopK);
    }

    /// <summary>Per-forward device buffers sized for a token count.</summary>
    private sealed class Scratch : IDisposable
    {
        public Scratch(OpenCLContext c, int tokens, int hidden, int ffn, int experts, int topK)
        {
            Tokens = tokens;
            long pairs = (long)tokens * topK;
            X = c.CreateBuffer((long)tokens * hidden * 4);
            Ids = c.CreateBuffer(pairs * 4);
            Weights = c.CreateBuffer(pairs * 4);
            Act = c.CreateBuffer(pairs * ffn * 4);
            Out = c.CreateBuffer((long)tokens * hidden * 4);
            Y = c.CreateBuffer(pairs * hidden * 4);
            Counts = c.CreateBuffer((long)experts * 4);
            Lists = c.CreateBuffer((long)experts * tokens * 4);
            Tiles = c.CreateBuffer((pairs + experts) * 2 * 4);
        }

        public int Tokens { get; }

        public OpenCLBuffer X { get; }

        public OpenCLBuffer Ids { get; }

        public OpenCLBuffer Weights { get; }

        public OpenCLBuffer Act { get; }

        public OpenCLBuffer Out { get; }

        public OpenCLBuffer Y { get; }

        public OpenCLBuffer Counts { get; }

        public OpenCLBuffer Lists { get; }

        public OpenCLBuffer Tiles { get; }

        public void Dispose()
        {
            X.Dispose();
            Ids.Dispose();
            Weights.Dispose();
            Act.Dispose();
            Out.Dispose();
            Y.Dispose();
            Counts.Dispose();
            Lists.Dispose();
            Tiles.Dispose();
        }
    }
}
