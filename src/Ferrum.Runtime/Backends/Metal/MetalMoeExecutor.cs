using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends.Metal;

/// <summary>
/// Runs one MoE block on the Metal GPU with the generated MSL kernels: route → gate||up (SiLU·up or swiglu_oai) →
/// down + weighted sum, all in one command buffer; from <see cref="MetalMoePlan.PrefillTokens"/> tokens on, the pairs
/// are grouped by expert and the prefill tile kernels run instead. Weights lying in a GGUF file mapping are
/// wrapped without copying (<see cref="IsPageMapped"/>), so the executor holds a lease on the layer's mapping until
/// it is disposed: disposing the <see cref="MoeLayer"/> or its file first is safe. Other memory is copied once.
/// Constructing it off macOS throws <see cref="PlatformNotSupportedException"/> ("Metal is available only on macOS").
/// One call at a time.
/// </summary>
public sealed unsafe class MetalMoeExecutor : IMoeExecutor
{
    private readonly MoeRouting _r;
    private readonly MetalMoeArgs _args;
    private readonly GgmlType _gateType;
    private readonly GgmlType _downType;
    private readonly int _ffn;
    private readonly int _experts;
    private readonly MetalDevice _device;
    private readonly bool _ownsDevice;
    private readonly IDisposable? _lease;

    // The layer's views stay reachable, so memory they own (WeightBytes.FromArray) lives as long as the buffers that
    // may wrap it; a mapping is kept by the lease, which outlives the layer.
    private readonly MoeLayer _layer;
    private readonly bool _pageMapped;
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<MetalMoeStep, MetalPipeline> _pipelines = [];
    private readonly MetalCommandQueue _queue = null!;
    private readonly MetalBuffer _router = null!;
    private readonly MetalBuffer _gate = null!;
    private readonly MetalBuffer _up = null!;
    private readonly MetalBuffer _down = null!;
    private readonly MetalBuffer _routerBias = null!;
    private readonly MetalBuffer _selectionBias = null!;
    private readonly MetalBuffer _gateBias = null!;
    private readonly MetalBuffer _upBias = null!;
    private readonly MetalBuffer _downBias = null!;
    private readonly MetalBuffer _shexpInp = null!;
    private readonly MetalBuffer? _sharedGate;
    private readonly MetalBuffer? _sharedUp;
    private readonly MetalBuffer? _sharedDown;
    private readonly MetalSharedExpert? _shared;
    private readonly MoeCallGate _calls = new("Metal MoE executor");
    private Scratch? _scratch;

    /// <summary>
    /// Prepares <paramref name="layer"/> on <paramref name="device"/> (null: the system default, owned and released by
    /// this executor) with the programs of <paramref name="sources"/> (null: the generated catalog, <see cref="MoePrograms.Catalog"/>):
    /// the one specialized for each weight matrix shape when generated, else the format's shape-generic one.
    /// <see cref="NotSupportedException"/> with the reason when <see cref="MetalBackend.CanRun"/> refuses the layer.
    /// </summary>
    public MetalMoeExecutor(MoeLayer layer, MoeProgramSources? sources = null, MetalDevice? device = null)
    {
        MetalPlatform.EnsureSupported();
        ArgumentNullException.ThrowIfNull(layer);
        _layer = layer;
        sources ??= MoePrograms.Catalog(Kernels.KernelTarget.Metal);
        if (!MetalBackend.CanRun(layer, sources, out var why))
        {
            throw new NotSupportedException($"{layer.Source} layer {layer.Index}: {why}");
        }

        layer.Validate();
        _r = layer.Routing;
        _args = MetalMoePlan.Args(layer, 1);
        Hidden = layer.Hidden;
        _ffn = layer.ExpertFfn;
        _experts = layer.Experts;
        _gateType = layer.Gate.Format;
        _downType = layer.Down.Format;
        _ownsDevice = device is null;
        _device = device ?? MetalDevice.CreateSystemDefault();
        try
        {
            if (!_device.SupportsFamily(MetalDevice.GpuFamilyApple7))
            {
                throw new NotSupportedException($"{_device.Name}: the Metal MoE kernels need an Apple GPU of family Apple7 or later (M1 and newer) for simdgroup matrices and simd reductions");
            }

            var defines = MetalMoePlan.Defines(_r.Activation == MoeActivation.SwigluOai);
            var (gateSource, gateSpecialized) = MoePrograms.Resolve(sources, _gateType, _ffn, Hidden)!.Value;
            var (downSource, downSpecialized) = MoePrograms.Resolve(sources, _downType, Hidden, _ffn)!.Value;
            var gateName = $"{GgmlTypeInfo.Get(_gateType).Name} {(gateSpecialized ? $"{_ffn}x{Hidden}" : "shape-generic")} Metal program";
            var downName = $"{GgmlTypeInfo.Get(_downType).Name} {(downSpecialized ? $"{Hidden}x{_ffn}" : "shape-generic")} Metal program";
            KernelPaths =
            [
                $"router: f32 kernel_moe_route ({_r.Gating}) on {_device.Name}",
                $"gate: {gateName} on {_device.Name}",
                $"up: {gateName} on {_device.Name}",
                $"down: {downName} on {_device.Name}",
            ];
            var gateLib = Own(_device.CompileLibrary(defines + gateSource, "the " + gateName));
            var downLib = downSource == gateSource ? gateLib : Own(_device.CompileLibrary(defines + downSource, "the " + downName));
            MetalLibrary? sharedGateLib = null, sharedDownLib = null;
            if (layer.HasSharedExpert)
            {
                _shared = new MetalSharedExpert(layer.SharedFfn, layer.SharedGate!.Format, layer.SharedDown!.Format);
                var (sgSource, _) = MoePrograms.Resolve(sources, _shared.GateUp, _shared.Ffn, Hidden)!.Value;
                var (sdSource, _) = MoePrograms.Resolve(sources, _shared.Down, Hidden, _shared.Ffn)!.Value;
                MetalLibrary Lib(string src, string what) =>
                    src == gateSource ? gateLib : src == downSource ? downLib : Own(_device.CompileLibrary(defines + src, what));
                sharedGateLib = Lib(sgSource, $"the {GgmlTypeInfo.Get(_shared.GateUp).Name} Metal program of the shared expert");
                sharedDownLib = sdSource == sgSource ? sharedGateLib : Lib(sdSource, $"the {GgmlTypeInfo.Get(_shared.Down).Name} Metal program of the shared expert");
                KernelPaths = [.. KernelPaths, $"shared expert: {_shared.Ffn} wide, {GgmlTypeInfo.Get(_shared.GateUp).Name} gate/up, {GgmlTypeInfo.Get(_shared.Down).Name} down{(layer.SharedGateInput != null ? ", sigmoid-gated" : string.Empty)} on {_device.Name}"];
            }

            foreach (var step in Enum.GetValues<MetalMoeStep>())
            {
                if (step is MetalMoeStep.SharedGateUp or MetalMoeStep.SharedDown && _shared is null)
                {
                    continue;
                }

                var lib = step switch
                {
                    MetalMoeStep.DownVector or MetalMoeStep.DownTile => downLib,
                    MetalMoeStep.SharedGateUp => sharedGateLib!,
                    MetalMoeStep.SharedDown => sharedDownLib!,
                    _ => gateLib,
                };
                var p = Own(lib.CreatePipeline(MetalMoePlan.Function(step, _gateType, _downType, _shared)));
                var threads = step switch
                {
                    MetalMoeStep.Route => MetalMoePlan.SimdWidth * MetalMoePlan.RouteSimdgroups,
                    MetalMoeStep.GateUpTile or MetalMoeStep.DownTile => MetalMoePlan.TileThreads,
                    MetalMoeStep.Map or MetalMoeStep.Combine => 64,
                    _ => MetalMoePlan.SimdWidth * MetalMoePlan.SimdgroupsPerThreadgroup,
                };
                if (p.ThreadExecutionWidth != MetalMoePlan.SimdWidth || p.MaxThreadsPerThreadgroup < threads)
                {
                    throw new NotSupportedException($"{p.Function} on {_device.Name}: SIMD width {p.ThreadExecutionWidth} and at most {p.MaxThreadsPerThreadgroup} threads per threadgroup; the kernels need width {MetalMoePlan.SimdWidth} and {threads} threads");
                }

                _pipelines[step] = p;
            }

            _queue = Own(_device.NewCommandQueue());

            // Pointers are taken once, under the lease, which outlives the buffers that wrap the mapping.
            _lease = layer.AcquireMemoryLease();
            _pageMapped = _lease is GgufMappingLease g && g.File.IsFileMapping;
            _router = Weights(layer.Router);
            _gate = Weights(layer.Gate);
            _up = Weights(layer.Up);
            _down = Weights(layer.Down);
            var biasBytes = (long)_experts * sizeof(float);
            _routerBias = layer.RouterBias != null ? Weights(layer.RouterBias) : Own(_device.NewBuffer(biasBytes));
            _selectionBias = layer.SelectionBias != null ? Weights(layer.SelectionBias) : Own(_device.NewBuffer(biasBytes));

            // Absent expert biases bind a 4-byte placeholder: the kernels read them only under has_expert_bias / has_down_bias.
            _gateBias = layer.GateBias != null ? Weights(layer.GateBias) : Own(_device.NewBuffer(4));
            _upBias = layer.UpBias != null ? Weights(layer.UpBias) : Own(_device.NewBuffer(4));
            _downBias = layer.DownBias != null ? Weights(layer.DownBias) : Own(_device.NewBuffer(4));
            _shexpInp = layer.SharedGateInput != null ? Weights(layer.SharedGateInput) : Own(_device.NewBuffer(4));
            if (layer.HasSharedExpert)
            {
                _sharedGate = Weights(layer.SharedGate!);
                _sharedUp = Weights(layer.SharedUp!);
                _sharedDown = Weights(layer.SharedDown!);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// True when the memory of <paramref name="layer"/> is a GGUF file mapping (page-granular), which the executor wraps
    /// without copying; false for an in-memory image or a layer built in code, which it copies into Metal buffers once.
    /// </summary>
    public static bool IsPageMapped(MoeLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var lease = layer.AcquireMemoryLease();
        return lease is GgufMappingLease g && g.File.IsFileMapping;
    }

    /// <inheritdoc/>
    public string Backend => "metal";

    /// <inheritdoc/>
    public int Hidden { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> KernelPaths { get; } = [];

    /// <summary>The GPU's name.</summary>
    public string DeviceName => _device.Name;

    /// <summary>True when the weights are wrapped in place (a file mapping) rather than copied.</summary>
    public bool WeightsInPlace => _pageMapped;

    /// <summary>
    /// <paramref name="y"/>[t] = Σ_k w_k · down_k(act(gate_k(x[t])) · up_k(x[t])) for <c>x.Length / Hidden</c> tokens.
    /// </summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        var tokens = MoeExecutorRows.Tokens(x.Length, y.Length, Hidden);
        using (_calls.Enter(this))
        {
            if (tokens > 0)
            {
                Run(x, y, tokens);
            }
        }
    }

    /// <inheritdoc/>
    public void Forward(float* x, float* y, int tokens)
    {
        var n = MoeExecutorRows.Floats(tokens, Hidden);
        Forward(new ReadOnlySpan<float>(x, n), new Span<float>(y, n));
    }

    private void Run(ReadOnlySpan<float> input, Span<float> output, int tokens)
    {
        int h = Hidden, f = _ffn, e = _experts, k = _r.ExpertsPerToken;
        var s = Scratch.Ensure(ref _scratch, _device, tokens, h, f, e, k, _shared?.Ffn ?? 0);
        input[..(tokens * h)].CopyTo(new Span<float>(s.X.Contents, tokens * h));
        var args = _args with { NTokens = tokens, MaxPerExpert = tokens };

        using (MetalAutoreleasePool.Push())
        {
            var cb = _queue.CommandBuffer();
            var enc = cb.ComputeEncoder();
            foreach (var d in MetalMoePlan.Build(h, f, e, k, tokens, _gateType, _downType, _shared))
            {
                enc.SetPipeline(_pipelines[d.Step]);
                enc.SetBytes(d.ArgsFrom(args), 0);
                Bind(enc, d.Step, s);
                enc.Dispatch(d.Threadgroups, d.ThreadsPerThreadgroup);
            }

            enc.End();
            cb.CommitAndWait();
        }

        new ReadOnlySpan<float>(s.Out.Contents, tokens * h).CopyTo(output);
    }

    /// <summary>Releases the buffers and pipelines, then the lease on the layer's memory, then an owned device. Refused while a call runs.</summary>
    public void Dispose()
    {
        if (!_calls.TryBeginDispose())
        {
            return;
        }

        _scratch?.Dispose();
        _scratch = null;
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
        _lease?.Dispose();
        GC.KeepAlive(_layer);
        if (_ownsDevice)
        {
            _device?.Dispose();
        }
    }

    private void Bind(MetalComputeEncoder enc, MetalMoeStep step, Scratch s)
    {
        var names = MetalMoePlan.Bindings(step);
        for (var i = 1; i < names.Count; i++)
        {
            enc.SetBuffer(Resolve(names[i], s), i);
        }
    }

    private MetalBuffer Resolve(string name, Scratch s) => name switch
    {
        "x" => s.X,
        "router" => _router,
        "router_bias" => _routerBias,
        "selection_bias" => _selectionBias,
        "gate_bias" => _gateBias,
        "up_bias" => _upBias,
        "down_bias" => _downBias,
        "shexp_inp" => _shexpInp,
        "shared_gate" => _sharedGate!,
        "shared_up" => _sharedUp!,
        "shared_down" => _sharedDown!,
        "shared_w" => s.SharedW,
        "zero_ids" => s.ZeroIds,
        "shared_act" => s.SharedAct,
        "ids" => s.Ids,
        "weights" => s.Weights,
        "gate" => _gate,
        "up" => _up,
        "down" => _down,
        "act" => s.Act,
        "out" => s.Out,
        "counts" => s.Counts,
        "lists" => s.Lists,
        "y" => s.Y,
        _ => throw new InvalidOperationException($"no buffer for kernel parameter '{name}'"),
    };

    private MetalBuffer Weights(ExpertStack m)
    {
        // Expert 0 row 0 to the end of the last expert's last row: every byte the kernels read.
        var bytes = ((m.Experts - 1) * m.ExpertStride) + m.ExpertBytes;
        var data = m.ExpertPointer(0);
        if (_pageMapped)
        {
            return Own(_device.WrapNoCopy(data, bytes, m.TensorName));
        }

        var b = Own(_device.NewBuffer(bytes));
        Buffer.MemoryCopy(data, b.Contents, bytes, bytes);
        return b;
    }

    private T Own<T>(T d)
        where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    /// <summary>Per-call buffers, grown to the largest token count seen.</summary>
    private sealed class Scratch : IDisposable
    {
        private Scratch(MetalDevice d, int tokens, int h, int f, int e, int k, int sharedFfn)
        {
            Tokens = tokens;
            MetalBuffer New(string name) => d.NewBuffer(MetalMoePlan.ScratchBytes(name, tokens, h, f, e, k, sharedFfn));
            X = New("x");
            Out = New("out");
            Ids = New("ids");
            Weights = New("weights");
            Act = New("act");
            Y = New("y");
            Counts = New("counts");
            Lists = New("lists");
            SharedW = New("shared_w");
            ZeroIds = New("zero_ids");
            SharedAct = New("shared_act");

            // Every token's shared-expert "routing": expert 0 (shared storage, visible to the CPU).
            new Span<int>(ZeroIds.Contents, tokens).Clear();
        }

        public MetalBuffer SharedW { get; }

        public MetalBuffer ZeroIds { get; }

        public MetalBuffer SharedAct { get; }

        public int Tokens { get; }

        public MetalBuffer X { get; }

        public MetalBuffer Out { get; }

        public MetalBuffer Ids { get; }

        public MetalBuffer Weights { get; }

        public MetalBuffer Act { get; }

        public MetalBuffer Y { get; }

        public MetalBuffer Counts { get; }

        public MetalBuffer Lists { get; }

        public static Scratch Ensure(ref Scratch? current, MetalDevice d, int tokens, int h, int f, int e, int k, int sharedFfn)
        {
            if (current is not null && current.Tokens >= tokens)
            {
                return current;
            }

            current?.Dispose();
            current = new Scratch(d, tokens, h, f, e, k, sharedFfn);
            return current;
        }

        public void Dispose()
        {
            foreach (var b in new[] { X, Out, Ids, Weights, Act, Y, Counts, Lists, SharedW, ZeroIds, SharedAct })
            {
                b.Dispose();
            }
        }
    }
}
