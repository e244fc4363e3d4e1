using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends.OpenCL;

/// <summary>
/// One MoE block on an OpenCL device: route (router mat-vec + bias, gating, group-limited top-k, renormalization, scale,
/// the shared expert's sigmoid gate) → gate||up (+ biases) with act(gate)·up → down (+ bias) → routing-weighted sum,
/// plus the shared expert's gated output, for any number of tokens. Programs are built and weight buffers created
/// once, here; scratch buffers grow with the largest token count seen. On a CPU device (pocl) the weight buffers wrap
/// the layer's memory in place (CL_MEM_USE_HOST_PTR), so the executor holds a lease on the layer's mapping until it
/// is disposed: disposing the <see cref="MoeLayer"/> or its GGUF file first is safe. One call at a time.
/// </summary>
public sealed unsafe class OpenCLMoeExecutor : IMoeExecutor
{
    private const int RouteGroup = 64;

    private readonly OpenCLContext _ctx;
    private readonly OpenCLProgram _gateUpProgram;
    private readonly OpenCLProgram _downProgram;
    private readonly IDisposable? _lease;

    // The layer's views stay reachable, so memory they own (WeightBytes.FromArray) lives as long as the buffers that
    // may wrap it; a mapping is kept by the lease, which outlives the layer.
    private readonly MoeLayer _layer;
    private readonly List<OpenCLBuffer> _weights = [];
    private readonly OpenCLBuffer _gate;
    private readonly OpenCLBuffer _up;
    private readonly OpenCLBuffer _down;
    private readonly OpenCLBuffer _router;
    private readonly OpenCLBuffer? _bias;
    private readonly OpenCLBuffer? _routerBias;
    private readonly OpenCLBuffer? _gateBias;
    private readonly OpenCLBuffer? _upBias;
    private readonly OpenCLBuffer? _downBias;
    private readonly OpenCLBuffer? _shexpInp;
    private readonly Shared? _shared;
    private readonly GgmlType _gateType;
    private readonly GgmlType _downType;
    private readonly long _gateStride;
    private readonly long _downStride;
    private readonly MoeRouting _routing;
    private readonly OpenCLMoeOptions _options;
    private readonly MoeCallGate _calls = new("OpenCL MoE executor");
    private Scratch? _scratch;

    /// <summary>
    /// Prepares <paramref name="layer"/> on the device of <paramref name="context"/>: checks it
    /// (<see cref="OpenCLBackend.CanRun"/>; <see cref="NotSupportedException"/> with the reason), builds (or loads cached)
    /// programs, the one specialized for each weight matrix shape when generated, else the format's generic one, and
    /// creates the weight buffers under a lease on the layer's memory.
    /// </summary>
    /// <param name="context">Device context (not owned; dispose it after the executor).</param>
    /// <param name="layer">The MoE block.</param>
    /// <param name="sources">Program lookup; null for the generated catalog (<see cref="MoePrograms.Catalog"/>).</param>
    /// <param name="options">Tuning; null for defaults.</param>
    public OpenCLMoeExecutor(OpenCLContext context, MoeLayer layer, MoeProgramSources? sources = null, OpenCLMoeOptions? options = null)
    {
        _ctx = context ?? throw new ArgumentNullException(nameof(context));
        ArgumentNullException.ThrowIfNull(layer);
        _layer = layer;
        sources ??= MoePrograms.Catalog(Kernels.KernelTarget.OpenCL);
        _options = options ?? new OpenCLMoeOptions();
        if (!OpenCLBackend.CanRun(layer, sources, out var why))
        {
            throw new NotSupportedException($"{layer.Source} layer {layer.Index}: {why}");
        }

        layer.Validate();
        _routing = layer.Routing;
        Hidden = layer.Hidden;
        ExpertFfn = layer.ExpertFfn;
        Experts = layer.Experts;
        TopK = layer.TopK;
        _gateType = layer.Gate.Format;
        _downType = layer.Down.Format;
        _gateStride = layer.Gate.ExpertStride;
        _downStride = layer.Down.ExpertStride;

        var build = BuildOptions(context.Device, _options, Hidden, ExpertFfn, _routing.Activation == MoeActivation.SwigluOai);
        (_gateUpProgram, var gatePath) = FormatProgram(context, sources, _gateType, ExpertFfn, Hidden, build);
        (_downProgram, var downPath) = FormatProgram(context, sources, _downType, Hidden, ExpertFfn, build);
        var device = $"{context.Device.Name} ({(context.Device.IsGpu ? "GPU" : context.Device.IsCpu ? "CPU" : "other")})";
        var routeNotes = new List<string> { _routing.Gating.ToString() };
        if (layer.RouterBias != null)
        {
            routeNotes.Add("router bias");
        }

        if (layer.SelectionBias != null)
        {
            routeNotes.Add("selection bias");
        }

        if (_routing.ExpertGroupCount > 1 && _routing.ExpertGroupsUsed < _routing.ExpertGroupCount)
        {
            routeNotes.Add($"{_routing.ExpertGroupsUsed} of {_routing.ExpertGroupCount} groups");
        }

        var paths = new List<string>
        {
            $"router: f32 ferrum_moe_route ({string.Join(", ", routeNotes)}) on {device}",
            $"gate: {gatePath} on {device}",
            $"up: {gatePath} on {device}",
            $"down: {downPath} on {device}",
        };
        OpenCLProgram? sharedGateUp = null, sharedDown = null;
        if (layer.HasSharedExpert)
        {
            (sharedGateUp, var sgPath) = FormatProgram(context, sources, layer.SharedGate!.Format, layer.SharedFfn, Hidden, build);
            (sharedDown, var sdPath) = FormatProgram(context, sources, layer.SharedDown!.Format, Hidden, layer.SharedFfn, build);
            paths.Add($"shared gate/up: {sgPath}{(layer.SharedGateInput != null ? ", sigmoid-gated" : string.Empty)} on {device}");
            paths.Add($"shared down: {sdPath} on {device}");
        }

        KernelPaths = paths;

        // Pointers are taken once, under the lease; the lease outlives the buffers that may wrap the memory.
        _lease = layer.AcquireMemoryLease();
        try
        {
            _gate = Wrap(layer.Gate);
            _up = Wrap(layer.Up);
            _down = Wrap(layer.Down);
            _router = Wrap(layer.Router);
            _bias = layer.SelectionBias is { } b ? Wrap(b) : null;
            _routerBias = layer.RouterBias is { } rb ? Wrap(rb) : null;
            _gateBias = layer.GateBias is { } gb ? Wrap(gb) : null;
            _upBias = layer.UpBias is { } ub ? Wrap(ub) : null;
            _downBias = layer.DownBias is { } db ? Wrap(db) : null;
            _shexpInp = layer.SharedGateInput is { } si ? Wrap(si) : null;
            if (layer.HasSharedExpert)
            {
                _shared = new Shared(sharedGateUp!, sharedDown!, Wrap(layer.SharedGate!), Wrap(layer.SharedUp!), Wrap(layer.SharedDown!), layer.SharedGate!.Format, layer.SharedDown!.Format, layer.SharedFfn);
            }
        }
        catch
        {
            ReleaseWeights();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Backend => "opencl";

    /// <inheritdoc/>
    public int Hidden { get; }

    /// <summary>Routed expert FFN size.</summary>
    public int ExpertFfn { get; }

    /// <summary>Routed experts.</summary>
    public int Experts { get; }

    /// <summary>Experts per token.</summary>
    public int TopK { get; }

    /// <summary>The routing in use.</summary>
    public MoeRouting Routing => _routing;

    /// <inheritdoc/>
    public IReadOnlyList<string> KernelPaths { get; }

    /// <summary>True when every weight buffer wraps the layer's memory (a CPU device) rather than a device copy.</summary>
    public bool WeightsInPlace => _gate.WrapsHostMemory && _up.WrapsHostMemory && _down.WrapsHostMemory;

    /// <inheritdoc/>
    public void Forward(ReadOnlySpan<float> x, Span<float> y) => Forward(x, y, OpenCLMoePath.Auto);

    /// <summary>The block with a chosen expert path: <paramref name="y"/>[t] = Σ_k w[t,k]·down_k(act(gate_k x_t)·up_k x_t), routed on the device.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, OpenCLMoePath path)
    {
        var tokens = MoeExecutorRows.Tokens(x.Length, y.Length, Hidden);
        using (_calls.Enter(this))
        {
            if (tokens == 0)
            {
                return;
            }

            var s = Begin(x, tokens);
            RouteOnDevice(s, tokens);
            Experts_(s, tokens, path);
            _ctx.Read(s.Out, y[..(tokens * Hidden)]);
        }
    }

    /// <inheritdoc/>
    public void Forward(float* x, float* y, int tokens)
    {
        var n = MoeExecutorRows.Floats(tokens, Hidden);
        Forward(new ReadOnlySpan<float>(x, n), new Span<float>(y, n));
    }

    /// <summary>Routing only: the selected experts and their weights, token-major (<c>tokens × TopK</c>).</summary>
    public void Route(ReadOnlySpan<float> x, Span<int> ids, Span<float> weights)
    {
        var tokens = MoeExecutorRows.Tokens(x.Length, x.Length, Hidden);
        CheckLength(ids.Length, tokens * TopK, nameof(ids));
        CheckLength(weights.Length, tokens * TopK, nameof(weights));
        using (_calls.Enter(this))
        {
            if (tokens == 0)
            {
                return;
            }

            var s = Begin(x, tokens);
            RouteOnDevice(s, tokens);
            _ctx.Read(s.Ids, ids[..(tokens * TopK)]);
            _ctx.Read(s.Weights, weights[..(tokens * TopK)]);
        }
    }

    /// <summary>The expert part with routing given by the caller (ids in [0, Experts), distinct per token).</summary>
    public void ForwardRouted(ReadOnlySpan<float> x, ReadOnlySpan<int> ids, ReadOnlySpan<float> weights, Span<float> y, OpenCLMoePath path = OpenCLMoePath.Auto)
    {
        var tokens = MoeExecutorRows.Tokens(x.Length, y.Length, Hidden);
        CheckRouting(tokens, ids, weights);
        if (_shared != null)
        {
            throw new InvalidOperationException($"{_layer.Source} layer {_layer.Index} has a shared expert, whose gate comes from the routing kernel: ForwardRouted runs routed experts only, use Forward");
        }

        using (_calls.Enter(this))
        {
            if (tokens == 0)
            {
                return;
            }

            var s = Begin(x, tokens);
            _ctx.Write(s.Ids, ids[..(tokens * TopK)]);
            _ctx.Write(s.Weights, weights[..(tokens * TopK)]);
            Experts_(s, tokens, path);
            _ctx.Read(s.Out, y[..(tokens * Hidden)]);
        }
    }

    /// <summary>gate||up only: act[(t·TopK + k), :] = act(gate_e x_t)·up_e x_t for e = ids[t·TopK + k].</summary>
    internal void GateUp(ReadOnlySpan<float> x, ReadOnlySpan<int> ids, Span<float> act, OpenCLMoePath path)
    {
        var tokens = MoeExecutorRows.Tokens(x.Length, x.Length, Hidden);
        CheckLength(act.Length, tokens * TopK * ExpertFfn, nameof(act));
        var ones = new float[tokens * TopK];
        Array.Fill(ones, 1f);
        CheckRouting(tokens, ids, ones);
        using (_calls.Enter(this))
        {
            if (tokens == 0)
            {
                return;
            }

            var s = Begin(x, tokens);
            _ctx.Write(s.Ids, ids[..(tokens * TopK)]);
            _ctx.Write<float>(s.Weights, ones);
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
    }

    /// <summary>Releases the buffers, then the lease on the layer's memory. Refused while a call runs.</summary>
    public void Dispose()
    {
        if (!_calls.TryBeginDispose())
        {
            return;
        }

        _scratch?.Dispose();
        _scratch = null;
        ReleaseWeights();
        GC.KeepAlive(_layer);
    }

    /// <summary>The -D options the executor builds its programs with (geometry and activation).</summary>
    internal static string BuildOptions(OpenCLDevice device, OpenCLMoeOptions o, int hidden, int ffn, bool oaiSwiglu = false)
    {
        var (tpr, rpg) = o.MatVecGeometry(device);
        if (tpr <= 0 || (tpr & (tpr - 1)) != 0)
        {
            throw new ArgumentException($"ThreadsPerRow {tpr} must be a power of two");
        }

        if (rpg <= 0 || o.RowsPerBlock <= 0 || o.TileRows <= 0 || o.TileTokens <= 0)
        {
            throw new ArgumentException("RowsPerGroup, RowsPerBlock, TileRows and TileTokens must be positive");
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

        return $"-cl-std=CL1.2 -D FERRUM_TPR={tpr} -D FERRUM_NR={o.RowsPerBlock} -D FERRUM_RPG={rpg} -D FERRUM_TR={o.TileRows} -D FERRUM_TT={o.TileTokens} -D FERRUM_KC={kc} -D FERRUM_ROUTE_WG={RouteGroup}"
            + (oaiSwiglu ? " -D FERRUM_ACT_OAI=1" : string.Empty);
    }

    private static void CheckLength(int actual, int needed, string name)
    {
        if (actual < needed)
        {
            throw new ArgumentException($"{name} has {actual} elements, the layer needs {needed}", name);
        }
    }

    private static long Groups(long n, long per) => (n + per - 1) / per;

    /// <summary>The program specialized for rows × rowLength when generated, else the format's generic one, and a line for <see cref="KernelPaths"/>.</summary>
    private static (OpenCLProgram Program, string Path) FormatProgram(OpenCLContext context, MoeProgramSources sources, GgmlType type, int rows, int rowLength, string build)
    {
        var fmt = GgmlTypeInfo.Get(type).Name;
        var (text, specialized) = MoePrograms.Resolve(sources, type, rows, rowLength) ?? throw new OpenCLException(
            $"no generated OpenCL program '{OpenCLProgramNames.Generic(type)}' for {fmt} expert weights: add {fmt} to kernels.yaml (targets: [opencl], and formats: or a model's roles)");
        var name = specialized ? OpenCLProgramNames.Specialized(type, rows, rowLength) : OpenCLProgramNames.Generic(type);
        return (context.BuildProgram(name, text, build), $"{fmt} {name} ({(specialized ? "specialized" : "generic")})");
    }

    private OpenCLBuffer Wrap(ExpertStack m)
    {
        // Expert 0 row 0 to the end of the last expert's last row: every byte the kernels read.
        var bytes = ((m.Experts - 1) * m.ExpertStride) + m.ExpertBytes;
        var b = _ctx.CreateBuffer(m.ExpertPointer(0), bytes, hostMemoryOutlivesBuffer: true);
        _weights.Add(b);
        return b;
    }

    private void ReleaseWeights()
    {
        foreach (var b in _weights)
        {
            b.Dispose();
        }

        _weights.Clear();
        _lease?.Dispose();
    }

    private Scratch Begin(ReadOnlySpan<float> x, int tokens)
    {
        if (_scratch is null || _scratch.Tokens < tokens)
        {
            _scratch?.Dispose();
            _scratch = null;
            _scratch = new Scratch(_ctx, tokens, Hidden, ExpertFfn, Experts, TopK, _shared?.Ffn ?? 0);
        }

        _ctx.Write(_scratch.X, x[..(tokens * Hidden)]);
        return _scratch;
    }

    private void CheckRouting(int tokens, ReadOnlySpan<int> ids, ReadOnlySpan<float> weights)
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
    }

    private void RouteOnDevice(Scratch s, int tokens)
    {
        var k = _gateUpProgram.Kernel("ferrum_moe_route");
        uint i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        OpenCLLaunch.Arg(_ctx, k, i++, _router);
        OpenCLLaunch.Arg(_ctx, k, i++, _bias ?? _router);
        OpenCLLaunch.Arg(_ctx, k, i++, _bias is null ? 0 : 1);
        OpenCLLaunch.Arg(_ctx, k, i++, _routerBias ?? _router);
        OpenCLLaunch.Arg(_ctx, k, i++, _routerBias is null ? 0 : 1);
        OpenCLLaunch.Arg(_ctx, k, i++, _shexpInp ?? _router);
        OpenCLLaunch.Arg(_ctx, k, i++, _shexpInp is null ? 0 : 1);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Ids);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Weights);
        OpenCLLaunch.Arg(_ctx, k, i++, s.SharedWeights);
        OpenCLLaunch.Arg(_ctx, k, i++, Hidden);
        OpenCLLaunch.Arg(_ctx, k, i++, Experts);
        OpenCLLaunch.Arg(_ctx, k, i++, TopK);
        OpenCLLaunch.Arg(_ctx, k, i++, (int)_routing.Gating);
        OpenCLLaunch.Arg(_ctx, k, i++, _routing.NormalizeWeights ? 1 : 0);
        OpenCLLaunch.Arg(_ctx, k, i++, _routing.WeightScale);
        OpenCLLaunch.Arg(_ctx, k, i++, _routing.ExpertGroupCount);
        OpenCLLaunch.Arg(_ctx, k, i, _routing.ExpertGroupsUsed);
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

        if (_shared != null)
        {
            SharedExpert(s, tokens);
        }
    }

    /// <summary>
    /// The shared expert through the same vec kernels as a one-expert top-1 block (every token's id 0, weight its
    /// sigmoid gate or 1 from the routing kernel), its down pass adding onto the routed output.
    /// </summary>
    private void SharedExpert(Scratch s, int tokens)
    {
        var sh = _shared!;
        var (tpr, rpg) = _options.MatVecGeometry(_ctx.Device);
        var name = "ferrum_moe_gate_up_vec_" + Fmt(sh.GateType);
        var k = sh.GateUpProgram.Kernel(name);
        uint i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, sh.Gate);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, sh.Up);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        OpenCLLaunch.Arg(_ctx, k, i++, s.ZeroIds);
        OpenCLLaunch.Arg(_ctx, k, i++, s.SharedAct);
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        SizeArgs(k, ref i, sh.Ffn, Hidden, 1, 1);
        OpenCLLaunch.Arg(_ctx, k, i, 0);
        OpenCLLaunch.Run(_ctx, k, name, [Groups(sh.Ffn, _options.RowsPerBlock * rpg) * tpr * rpg, tokens], [tpr * rpg, 1]);

        name = "ferrum_moe_down_vec_" + Fmt(sh.DownType);
        k = sh.DownProgram.Kernel(name);
        i = 0;
        OpenCLLaunch.Arg(_ctx, k, i++, sh.Down);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        OpenCLLaunch.Arg(_ctx, k, i++, s.SharedAct);
        OpenCLLaunch.Arg(_ctx, k, i++, s.ZeroIds);
        OpenCLLaunch.Arg(_ctx, k, i++, s.SharedWeights);
        OpenCLLaunch.Arg(_ctx, k, i++, s.Out);
        OpenCLLaunch.Arg(_ctx, k, i++, s.X);
        SizeArgs(k, ref i, Hidden, sh.Ffn, 1, 1);
        OpenCLLaunch.Arg(_ctx, k, i++, 0);
        OpenCLLaunch.Arg(_ctx, k, i, 1);
        OpenCLLaunch.Run(_ctx, k, name, [Groups(Hidden, _options.RowsPerBlock * rpg) * tpr * rpg, tokens], [tpr * rpg, 1]);
    }

    private string Fmt(GgmlType t) => GgmlTypeInfo.Get(t).Name;

    private void GateUpVec(Scratch s, int tokens)
    {
        var (k, name, i) = GateUpKernel("ferrum_moe_gate_up_vec_", s.X, s.Ids, s.Act, _gateBias ?? s.X, _upBias ?? s.X);
        SizeArgs(k, ref i, ExpertFfn, Hidden);
        OpenCLLaunch.Arg(_ctx, k, i, HasExpertBias ? 1 : 0);
        var (tpr, rpg) = _options.MatVecGeometry(_ctx.Device);
        OpenCLLaunch.Run(_ctx, k, name, [Groups(ExpertFfn, _options.RowsPerBlock * rpg) * tpr * rpg, (long)tokens * TopK], [tpr * rpg, 1]);
    }

    private void DownVec(Scratch s, int tokens)
    {
        var (k, name, i) = DownKernel("ferrum_moe_down_vec_", s.Act, s.Ids, s.Weights, s.Out, _downBias ?? s.X);
        SizeArgs(k, ref i, Hidden, ExpertFfn);
        OpenCLLaunch.Arg(_ctx, k, i++, _downBias is null ? 0 : 1);
        OpenCLLaunch.Arg(_ctx, k, i, 0);
        var (tpr, rpg) = _options.MatVecGeometry(_ctx.Device);
        OpenCLLaunch.Run(_ctx, k, name, [Groups(Hidden, _options.RowsPerBlock * rpg) * tpr * rpg, tokens], [tpr * rpg, 1]);
    }

    private (nint Kernel, string Name, uint Next) GateUpKernel(string prefix, params OpenCLBuffer[] buffers) =>
        ExpertKernel(_gateUpProgram, prefix + Fmt(_gateType), [_gate, _up], _gateStride, buffers);

    private (nint Kernel, string Name, uint Next) DownKernel(string prefix, params OpenCLBuffer[] buffers) =>
        ExpertKernel(_downProgram, prefix + Fmt(_downType), [_down], _downStride, buffers);

    // An expert kernel's arguments start with its weight buffers (gate and up, or down), each followed by a byte
    // offset, then the expert stride, then the given buffers; returns the next argument index.
    private (nint Kernel, string Name, uint Next) ExpertKernel(OpenCLProgram program, string name, OpenCLBuffer[] weights, long stride, OpenCLBuffer[] buffers)
    {
        var k = program.Kernel(name);
        uint i = 0;
        foreach (var w in weights)
        {
            OpenCLLaunch.Arg(_ctx, k, i++, w);
            OpenCLLaunch.Arg(_ctx, k, i++, 0UL);
        }

        OpenCLLaunch.Arg(_ctx, k, i++, (ulong)stride);
        foreach (var b in buffers)
        {
            OpenCLLaunch.Arg(_ctx, k, i++, b);
        }

        return (k, name, i);
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
        var (k, name, i) = GateUpKernel("ferrum_moe_gate_up_tile_", s.X, s.Counts, s.Lists, s.Tiles, s.Act, _gateBias ?? s.X, _upBias ?? s.X);
        RunTiles(k, name, i, ExpertFfn, Hidden, tokens, tiles, HasExpertBias);
    }

    private void DownTiled(Scratch s, int tokens, int tiles)
    {
        var (k, name, i) = DownKernel("ferrum_moe_down_tile_", s.Act, s.Counts, s.Lists, s.Tiles, s.Weights, s.Y, _downBias ?? s.X);
        RunTiles(k, name, i, Hidden, ExpertFfn, tokens, tiles, _downBias != null);
    }

    // The tile kernels end with the sizes, the token count and the bias flag; one work-group per row tile × token tile.
    private void RunTiles(nint k, string name, uint i, int rows, int rowLength, int tokens, int tiles, bool bias)
    {
        SizeArgs(k, ref i, rows, rowLength);
        OpenCLLaunch.Arg(_ctx, k, i++, tokens);
        OpenCLLaunch.Arg(_ctx, k, i, bias ? 1 : 0);
        var tr = _options.TileRows;
        var tt = _options.TileTokens;
        if (tiles > 0)
        {
            OpenCLLaunch.Run(_ctx, k, name, [Groups(rows, tr) * tr, (long)tiles * tt], [tr, tt]);
        }
    }

    // The kernels take one flag for the gate and up biases: the support check requires both or neither.
    private bool HasExpertBias => _gateBias != null;

    /// <summary>rows, row length (of the matrix the kernel reads), experts, top-k.</summary>
    private void SizeArgs(nint kernel, ref uint i, int rows, int rowLength) => SizeArgs(kernel, ref i, rows, rowLength, Experts, TopK);

    private void SizeArgs(nint kernel, ref uint i, int rows, int rowLength, int experts, int topK)
    {
        OpenCLLaunch.Arg(_ctx, kernel, i++, rows);
        OpenCLLaunch.Arg(_ctx, kernel, i++, rowLength);
        OpenCLLaunch.Arg(_ctx, kernel, i++, experts);
        OpenCLLaunch.Arg(_ctx, kernel, i++, topK);
    }

    /// <summary>The shared expert's programs, weight buffers (in <see cref="_weights"/>, released with them) and width.</summary>
    private sealed record Shared(OpenCLProgram GateUpProgram, OpenCLProgram DownProgram, OpenCLBuffer Gate, OpenCLBuffer Up, OpenCLBuffer Down, GgmlType GateType, GgmlType DownType, int Ffn);

    /// <summary>Per-forward device buffers sized for a token count.</summary>
    private sealed class Scratch : IDisposable
    {
        public Scratch(OpenCLContext c, int tokens, int hidden, int ffn, int experts, int topK, int sharedFfn)
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
            SharedWeights = c.CreateBuffer((long)tokens * 4);
            ZeroIds = c.CreateBuffer((long)tokens * 4);
            c.Write<int>(ZeroIds, new int[tokens]);
            SharedAct = c.CreateBuffer((long)tokens * Math.Max(sharedFfn, 1) * 4);
        }

        /// <summary>Per token: the shared expert's gate (sigmoid or 1), written by the routing kernel.</summary>
        public OpenCLBuffer SharedWeights { get; }

        /// <summary>Per token: expert id 0, the shared expert's "routing".</summary>
        public OpenCLBuffer ZeroIds { get; }

        /// <summary>The shared expert's activations, tokens × shared FFN.</summary>
        public OpenCLBuffer SharedAct { get; }

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
            SharedWeights.Dispose();
            ZeroIds.Dispose();
            SharedAct.Dispose();
        }
    }
}
