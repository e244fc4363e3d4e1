using Ferrum.Kernels;
using Ferrum.Quantization;

namespace Ferrum.Backends.Metal;

/// <summary>
/// Runs one MoE block on the Metal GPU with the generated MSL kernels: route → gate||up (SiLU·up) → down + weighted
/// sum, all in one command buffer; from <see cref="MetalMoePlan.PrefillTokens"/> tokens on, the pairs are grouped by
/// expert and the simdgroup-matrix tile kernels run instead. Weights are wrapped without copying when they lie in a
/// file mapping (<see cref="MetalMoeWeights.PageMapped"/>). Constructing it off macOS throws
/// <see cref="PlatformNotSupportedException"/> ("Metal is available only on macOS").
/// </summary>
public sealed unsafe class MetalMoeExecutor : IDisposable
{
    private readonly MetalMoeWeights _w;
    private readonly MetalMoeRouting _r;
    private readonly MetalDevice _device;
    private readonly bool _ownsDevice;
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<MetalMoeStep, MetalPipeline> _pipelines = [];
    private readonly MetalCommandQueue _queue;
    private readonly MetalBuffer _router;
    private readonly MetalBuffer _gate;
    private readonly MetalBuffer _up;
    private readonly MetalBuffer _down;
    private readonly MetalBuffer _routerBias;
    private readonly MetalBuffer _selectionBias;
    private Scratch? _scratch;

    /// <summary>
    /// Like the main constructor, with the programs the source generator registered in the
    /// <see cref="KernelSourceCatalog"/> (kernels.yaml with <c>metal</c> in its targets): the one specialized for each
    /// matrix shape when declared, else the format's shape-generic one.
    /// </summary>
    public MetalMoeExecutor(MetalMoeWeights weights, MetalMoeRouting routing, MetalDevice? device = null)
        : this(weights, routing, CatalogSource, device)
    {
    }

    /// <summary>Compiles the programs, builds the pipelines and wraps the weights.</summary>
    /// <param name="weights">The block's tensors.</param>
    /// <param name="routing">Routing and activation.</param>
    /// <param name="programSource">
    /// The generated MSL program for a weight format and matrix shape (type, rows, row length): gate/up are F×H, down
    /// H×F. It may be the format's shape-generic program. Each program holds every MoE kernel of its format.
    /// </param>
    /// <param name="device">The device; null = the system default (owned and released by this executor).</param>
    public MetalMoeExecutor(MetalMoeWeights weights, MetalMoeRouting routing, Func<GgmlType, int, int, string> programSource, MetalDevice? device = null)
    {
        MetalPlatform.EnsureSupported();
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(routing);
        ArgumentNullException.ThrowIfNull(programSource);
        weights.Validate();
        if (routing.Gating is < 1 or > 3)
        {
            throw new NotSupportedException($"gating function {routing.Gating}: the Metal kernels implement 1 (softmax), 2 (sigmoid) and 3 (softmax over the selected)");
        }

        _ = MetalMoePlan.Build(weights.Hidden, weights.ExpertFfn, weights.Experts, routing.ExpertsPerToken, 1, weights.Gate.Type, weights.Down.Type);
        _w = weights;
        _r = routing;
        _ownsDevice = device is null;
        _device = device ?? MetalDevice.CreateSystemDefault();
        try
        {
            if (!_device.SupportsFamily(MetalDevice.GpuFamilyApple7))
            {
                throw new NotSupportedException($"{_device.Name}: the Metal MoE kernels need an Apple GPU of family Apple7 or later (M1 and newer) for simdgroup matrices and simd reductions");
            }

            var defines = MetalMoePlan.Defines(routing.OaiActivation);
            var gateSource = programSource(weights.Gate.Type, weights.ExpertFfn, weights.Hidden);
            var downSource = programSource(weights.Down.Type, weights.Hidden, weights.ExpertFfn);
            var gateLib = Own(_device.CompileLibrary(defines + gateSource, $"the {GgmlTypeInfo.Get(weights.Gate.Type).Name} {weights.ExpertFfn}x{weights.Hidden} Metal program"));
            var downLib = downSource == gateSource
                ? gateLib
                : Own(_device.CompileLibrary(defines + downSource, $"the {GgmlTypeInfo.Get(weights.Down.Type).Name} {weights.Hidden}x{weights.ExpertFfn} Metal program"));
            foreach (var step in Enum.GetValues<MetalMoeStep>())
            {
                var lib = step is MetalMoeStep.DownVector or MetalMoeStep.DownTile ? downLib : gateLib;
                var p = Own(lib.CreatePipeline(MetalMoePlan.Function(step, weights.Gate.Type, weights.Down.Type)));
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
            _router = Weights(weights.Router.Data, weights.Router.SpanBytes, weights.Router.Name);
            _gate = Weights(weights.Gate.Data, weights.Gate.SpanBytes, weights.Gate.Name);
            _up = Weights(weights.Up.Data, weights.Up.SpanBytes, weights.Up.Name);
            _down = Weights(weights.Down.Data, weights.Down.SpanBytes, weights.Down.Name);
            var biasBytes = (long)weights.Experts * sizeof(float);
            _routerBias = weights.RouterBias != null ? Weights((byte*)weights.RouterBias, biasBytes, "router bias") : Own(_device.NewBuffer(biasBytes));
            _selectionBias = weights.SelectionBias != null ? Weights((byte*)weights.SelectionBias, biasBytes, "selection bias") : Own(_device.NewBuffer(biasBytes));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The generated Metal program for a format and matrix shape from the source catalog; a clear error when none is registered.</summary>
    public static string CatalogSource(GgmlType type, int rows, int rowLength) =>
        KernelSourceCatalog.Find(KernelTarget.Metal, new KernelKey(type, rows, rowLength, 1))?.Text
        ?? throw new InvalidOperationException(
            $"no Metal kernel source for {GgmlTypeInfo.Get(type).Name} in the loaded assemblies: list the format under 'formats:' and 'metal' under 'targets:' in kernels.yaml");

    /// <summary>The GPU's name.</summary>
    public string DeviceName => _device.Name;

    /// <summary>
    /// output[t] = Σ_k w_k · down_k(act(gate_k(x[t])) · up_k(x[t])) for <paramref name="tokens"/> rows of hidden floats.
    /// </summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int tokens)
    {
        int h = _w.Hidden, f = _w.ExpertFfn, e = _w.Experts, k = _r.ExpertsPerToken;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        if (input.Length < (long)tokens * h || output.Length < (long)tokens * h)
        {
            throw new ArgumentException($"input and output need {tokens}×{h} floats (got {input.Length} and {output.Length})");
        }

        var s = Scratch.Ensure(ref _scratch, _device, tokens, h, f, e, k);
        input[..(tokens * h)].CopyTo(new Span<float>(s.X.Contents, tokens * h));
        var args = MetalMoePlan.Args(_w, _r, tokens);

        using (MetalAutoreleasePool.Push())
        {
            var cb = _queue.CommandBuffer();
            var enc = cb.ComputeEncoder();
            foreach (var d in MetalMoePlan.Build(h, f, e, k, tokens, _w.Gate.Type, _w.Down.Type))
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

    /// <inheritdoc/>
    public void Dispose()
    {
        _scratch?.Dispose();
        _scratch = null;
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
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

    private MetalBuffer Weights(byte* data, long bytes, string name)
    {
        if (_w.PageMapped)
        {
            return Own(_device.WrapNoCopy(data, bytes, name));
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
        private Scratch(MetalDevice d, int tokens, int h, int f, int e, int k)
        {
            Tokens = tokens;
            MetalBuffer New(string name) => d.NewBuffer(MetalMoePlan.ScratchBytes(name, tokens, h, f, e, k));
            X = New("x");
            Out = New("out");
            Ids = New("ids");
            Weights = New("weights");
            Act = New("act");
            Y = New("y");
            Counts = New("counts");
            Lists = New("lists");
        }

        public int Tokens { get; }

        public MetalBuffer X { get; }

        public MetalBuffer Out { get; }

        public MetalBuffer Ids { get; }

        public MetalBuffer Weights { get; }

        public MetalBuffer Act { get; }

        public MetalBuffer Y { get; }

        public MetalBuffer Counts { get; }

        public MetalBuffer Lists { get; }

        public static Scratch Ensure(ref Scratch? current, MetalDevice d, int tokens, int h, int f, int e, int k)
        {
            if (current is not null && current.Tokens >= tokens)
            {
                return current;
            }

            current?.Dispose();
            current = new Scratch(d, tokens, h, f, e, k);
            return current;
        }

        public void Dispose()
        {
            foreach (var b in new[] { X, Out, Ids, Weights, Act, Y, Counts, Lists })
            {
                b.Dispose();
            }
        }
    }
}
