using System.Diagnostics;
using System.Runtime.InteropServices;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Sample.Commands;

/// <summary>
/// One row of <c>ferrum bench</c>: times per pass in milliseconds for Ferrum, ggml's plain path and ggml's repacked
/// (CPU_REPACK) path; a ggml path's fields are null when it does not run. NMSE: Ferrum vs plain, Ferrum vs repacked,
/// repacked vs plain, each on the same layer and input.
/// </summary>
public sealed record BenchRow(int Tokens, double FerrumMedian, double FerrumMin, int FerrumPasses,
    double? GgmlMedian, double? GgmlMin, int GgmlPasses,
    double? RepackMedian, double? RepackMin, int RepackPasses,
    double ExpertGbPerSecond, double? Nmse, double? NmseRepack, double? NmsePlainRepack)
{
    /// <summary>Expert GB/s as a percentage of the read bandwidth measured in the same run (decode's yardstick).</summary>
    public double? BandwidthPercent { get; init; }

    /// <summary>
    /// Expert multiply-adds per second as a percentage of the int8 multiply-add peak measured in the same run
    /// (prefill's yardstick); null when a weight format is a float format (no integer dot).
    /// </summary>
    public double? Int8PeakPercent { get; init; }

    /// <summary>Ferrum median / ggml plain median (below 1: Ferrum is faster).</summary>
    public double? RatioPlain => GgmlMedian is { } g && g > 0 ? FerrumMedian / g : null;

    /// <summary>Ferrum median / ggml repacked median (below 1: Ferrum is faster).</summary>
    public double? RatioRepack => RepackMedian is { } g && g > 0 ? FerrumMedian / g : null;
}

/// <summary>
/// Times Ferrum's <see cref="CpuMoeLayer"/> and ggml's build_moe_ffn graph (<see cref="GgmlMoeBlock"/>) on the MoE
/// blocks of one GGUF file: same weights (the file's mapping), same seeded random inputs, same thread count. Passes
/// rotate over all MoE layers so the experts stream from DRAM as in a real forward pass. ggml runs twice: its plain
/// path (weights read in place from the file's mapping) and its repacked path (the weights that have an interleaved
/// layout on this CPU copied into CPU_REPACK buffers, as llama.cpp places them; see <see cref="GgmlMoeWeights"/>).
/// </summary>
public sealed unsafe class BenchRunner : IDisposable
{
    private const int Inputs = 8;
    private readonly GgufFile _file;
    private readonly List<MoeLayer> _layers = [];
    private readonly List<GgmlMoeWeights> _repacked = [];

    /// <summary>Opens the file and loads every MoE layer; throws a clear exception for a missing, non-GGUF or non-MoE file.</summary>
    public BenchRunner(string path, int threads, double secondsPerSide)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"model file '{path}' not found", path);
        }

        _file = ModelFiles.Open(path);
        try
        {
            Hyper = _file.GetMoeHyperParameters();
            for (int l = Hyper.LeadingDenseBlockCount; l < Hyper.BlockCount; l++)
            {
                _layers.Add(MoeLayer.Load(_file, l));
            }

            if (_layers.Count == 0)
            {
                throw new GgufException($"{path}: no MoE layer (block_count {Hyper.BlockCount}, leading dense {Hyper.LeadingDenseBlockCount})");
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        Threads = threads;
        SecondsPerSide = secondsPerSide;

        // The yardsticks, measured in this run on these threads (once per process: --formats opens a runner per file).
        (ReadGbPerSecond, Int8PeakGmacs) = Yardsticks(threads);
        GgmlUnsupported = GgmlSupport(_layers[0]);
        GgmlAvailable = GgmlLibrary.IsAvailable;
        if (GgmlRuns)
        {
            if (!GgmlRepack.IsAvailable)
            {
                RepackUnavailable = GgmlRepack.Unavailable;
                return;
            }

            try
            {
                // Repacked once per run (ggml copies and interleaves on upload), reused for every token count.
                foreach (var l in _layers)
                {
                    _repacked.Add(new GgmlMoeWeights(SpecOf(l), l.Router.ExpertPointer(0), l.Gate.ExpertPointer(0), l.Up.ExpertPointer(0), l.Down.ExpertPointer(0), repack: true));
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }
    }

    private static readonly Dictionary<int, (double ReadGbPerSecond, double Int8PeakGmacs)> MeasuredYardsticks = [];

    // Sequential read bandwidth and the int8 multiply-add peak on `threads` threads, measured the first time asked.
    private static (double, double) Yardsticks(int threads)
    {
        lock (MeasuredYardsticks)
        {
            if (!MeasuredYardsticks.TryGetValue(threads, out var y))
            {
                y = (ReadBandwidth.Measure(threads, 512L << 20, 3), Int8Peak.Measure(threads));
                MeasuredYardsticks[threads] = y;
            }

            return y;
        }
    }

    /// <summary>Sequential read bandwidth measured at start (GB/s, <see cref="ReadBandwidth"/>).</summary>
    public double ReadGbPerSecond { get; }

    /// <summary>The machine's int8 multiply-add peak measured at start (G/s, <see cref="Int8Peak"/>), on <see cref="Threads"/> threads.</summary>
    public double Int8PeakGmacs { get; }

    /// <summary>The file's MoE hyperparameters.</summary>
    public MoeHyperParameters Hyper { get; }

    /// <summary>Number of MoE layers rotated over.</summary>
    public int LayerCount => _layers.Count;

    /// <summary>Threads of both sides.</summary>
    public int Threads { get; }

    /// <summary>Time budget of the timed passes per side and token count (at least 3 passes run).</summary>
    public double SecondsPerSide { get; }

    /// <summary>True when ggml's native libraries were found.</summary>
    public bool GgmlAvailable { get; }

    /// <summary>Why ggml's graph cannot reproduce this block (null when it can).</summary>
    public string? GgmlUnsupported { get; }

    /// <summary>True when the ggml side runs.</summary>
    public bool GgmlRuns => GgmlAvailable && GgmlUnsupported == null;

    /// <summary>Why ggml's repacked path does not run although the plain one does (null otherwise).</summary>
    public string? RepackUnavailable { get; }

    /// <summary>True when ggml's repacked (CPU_REPACK) path runs.</summary>
    public bool RepackRuns => _repacked.Count > 0;

    /// <summary>How the CPU_REPACK buffer type was found (the proc address or the mangled export).</summary>
    public string RepackFoundVia => RepackRuns ? GgmlRepack.FoundVia : "";

    /// <summary>Per MoE layer (GGUF block index): which of router, gate, up, down ggml actually repacked.</summary>
    public IReadOnlyList<(int Layer, IReadOnlyList<string> Weights)> RepackedWeights =>
        [.. _repacked.Select((w, i) => (_layers[i].Index, w.Repacked))];

    /// <summary>Multiply-adds of one token's expert matrices (top-K routed experts' gate, up and down, plus the shared expert).</summary>
    public long MultiplyAddsPerToken
    {
        get
        {
            var w = _layers[0];
            long routed = Size(w.Gate) + Size(w.Up) + Size(w.Down);
            long shared = (w.SharedGate is { } g ? Size(g) : 0) + (w.SharedUp is { } u ? Size(u) : 0) + (w.SharedDown is { } d ? Size(d) : 0);
            return (routed * Hyper.ExpertUsedCount) + shared;

            static long Size(ExpertStack m) => (long)m.Rows * m.RowLength;
        }
    }

    /// <summary>True when every expert matrix runs integer dots (quantized activations), so the int8 peak applies.</summary>
    public bool IntegerDots =>
        new[] { _layers[0].Gate, _layers[0].Up, _layers[0].Down }.All(m => Ferrum.Quantization.Formats.FormatRow.Get(m.Format).ActivationType != Ferrum.Quantization.GgmlType.F32);

    /// <summary>Expert weight bytes of one layer (gate + up + down, all experts).</summary>
    public long ExpertBytesPerLayer
    {
        get
        {
            var w = _layers[0];
            return (w.Gate.ExpertBytes + w.Up.ExpertBytes + w.Down.ExpertBytes) * Hyper.ExpertCount;
        }
    }

    /// <summary>The kernels Ferrum runs (from the first layer).</summary>
    public IReadOnlyList<string> KernelPaths { get; private set; } = [];

    /// <summary>Measures one token count.</summary>
    public BenchRow Measure(int tokens, ulong seed)
    {
        int hidden = _layers[0].Hidden;
        long n = (long)tokens * hidden;
        var xs = new float*[Inputs];
        float* y = null;
        var ferrum = new List<CpuMoeExecutor>();
        var ggml = new Dictionary<GgmlMoeSpec, GgmlMoeBlock>();
        var repacked = new List<GgmlMoeBlock>();
        GgmlCpuBackend? backend = null;
        try
        {
            var rng = new SplitMix(seed);
            for (int i = 0; i < Inputs; i++)
            {
                xs[i] = (float*)NativeMemory.AlignedAlloc((nuint)(4 * n), 64);
                for (long j = 0; j < n; j++)
                {
                    xs[i][j] = rng.NextFloat();
                }
            }

            y = (float*)NativeMemory.AlignedAlloc((nuint)(4 * n), 64);
            using var pool = new CpuWorkerPool(Threads);
            foreach (var l in _layers)
            {
                ferrum.Add(new CpuMoeExecutor(l, new CpuMoeOptions { Workers = pool, MaxTokens = tokens }));
            }

            KernelPaths = ferrum[0].KernelPaths;
            if (GgmlRuns)
            {
                backend = new GgmlCpuBackend(Threads);
                // One graph per distinct shape/type set (Q4_K_M files mix q4_K and q6_K down projections).
                foreach (var l in _layers)
                {
                    var spec = SpecOf(l);
                    if (!ggml.ContainsKey(spec))
                    {
                        ggml[spec] = new GgmlMoeBlock(spec, tokens, l.Router.ExpertPointer(0), l.Gate.ExpertPointer(0), l.Up.ExpertPointer(0), l.Down.ExpertPointer(0));
                    }
                }

                // The repacked path: one graph per layer, on that layer's own (repacked) tensors.
                foreach (var w in _repacked)
                {
                    repacked.Add(new GgmlMoeBlock(w, tokens));
                }

                backend.Pause();
            }

            int layers = _layers.Count;
            var tf = Time(i => ferrum[i % layers].Forward(xs[i % Inputs], y, tokens));
            (double Median, double Min, int Passes)? tg = null, tr = null;
            double? nmse = null, nmseRepack = null, nmsePlainRepack = null;
            if (backend != null)
            {
                backend.Resume();
                tg = Time(i => GgmlForward(ggml, i % layers, backend, xs[i % Inputs]));
                if (repacked.Count > 0)
                {
                    tr = Time(i => repacked[i % layers].Forward(backend, xs[i % Inputs]));
                }

                // Same layer, same input: the outputs must agree pairwise (worst of the first layer of each type set).
                nmse = 0;
                var checkedSpecs = new HashSet<GgmlMoeSpec>();
                for (int l = 0; l < layers; l++)
                {
                    if (!checkedSpecs.Add(SpecOf(_layers[l])))
                    {
                        continue;
                    }

                    ferrum[l].Forward(xs[l % Inputs], y, tokens);
                    var g = GgmlForward(ggml, l, backend, xs[l % Inputs]);
                    nmse = Math.Max(nmse.Value, Nmse(y, g.Output, n));
                    if (repacked.Count > 0)
                    {
                        repacked[l].Forward(backend, xs[l % Inputs]);
                        nmseRepack = Math.Max(nmseRepack ?? 0, Nmse(y, repacked[l].Output, n));
                        nmsePlainRepack = Math.Max(nmsePlainRepack ?? 0, Nmse(repacked[l].Output, g.Output, n));
                    }
                }

                backend.Pause();
            }

            // Expert bytes one pass reads: expected distinct experts of the batch under uniform routing.
            int e = Hyper.ExpertCount, k = Hyper.ExpertUsedCount;
            double distinct = e * (1 - Math.Pow(1 - (double)k / e, tokens));
            double bytes = distinct * ExpertBytesPerLayer / e;
            double gbs = bytes / tf.Median / 1e6;
            return new BenchRow(tokens, tf.Median, tf.Min, tf.Passes, tg?.Median, tg?.Min, tg?.Passes ?? 0,
                tr?.Median, tr?.Min, tr?.Passes ?? 0, gbs, nmse, nmseRepack, nmsePlainRepack)
            {
                BandwidthPercent = ReadGbPerSecond > 0 ? 100 * gbs / ReadGbPerSecond : null,
                Int8PeakPercent = IntegerDots && Int8PeakGmacs > 0 ? 100 * (MultiplyAddsPerToken * tokens / (tf.Median / 1e3) / 1e9) / Int8PeakGmacs : null,
            };
        }
        finally
        {
            foreach (var g in ggml.Values)
            {
                g.Dispose();
            }

            foreach (var r in repacked)
            {
                r.Dispose();
            }

            backend?.Dispose();
            foreach (var f in ferrum)
            {
                f.Dispose();
            }

            foreach (var x in xs)
            {
                NativeMemory.AlignedFree(x);
            }

            NativeMemory.AlignedFree(y);
        }
    }

    public void Dispose()
    {
        foreach (var w in _repacked)
        {
            w.Dispose();
        }

        _repacked.Clear();
        foreach (var l in _layers)
        {
            l.Dispose();
        }

        _file.Dispose();
    }

    // Warm-up (one pass over every layer, at least 10% of the budget), then timed passes until the budget is spent,
    // at least 3 and at most 10000. Median and minimum of the per-pass wall times.
    private (double Median, double Min, int Passes) Time(Action<int> run)
    {
        int i = 0;
        long start = Stopwatch.GetTimestamp();
        while (i < _layers.Count || Stopwatch.GetElapsedTime(start).TotalSeconds < SecondsPerSide / 10)
        {
            run(i++);
        }

        var t = new List<double>();
        start = Stopwatch.GetTimestamp();
        while (t.Count < 3 || (Stopwatch.GetElapsedTime(start).TotalSeconds < SecondsPerSide && t.Count < 10000))
        {
            long s = Stopwatch.GetTimestamp();
            run(i++);
            t.Add(Stopwatch.GetElapsedTime(s).TotalMilliseconds);
        }

        t.Sort();
        return (t[t.Count / 2], t[0], t.Count);
    }

    private GgmlMoeBlock GgmlForward(Dictionary<GgmlMoeSpec, GgmlMoeBlock> blocks, int layer, GgmlCpuBackend backend, float* x)
    {
        var l = _layers[layer];
        var block = blocks[SpecOf(l)];
        block.SetWeights(l.Router.ExpertPointer(0), l.Gate.ExpertPointer(0), l.Up.ExpertPointer(0), l.Down.ExpertPointer(0));
        block.Forward(backend, x);
        return block;
    }

    private static double Nmse(float* a, float* b, long n)
    {
        double num = 0, den = 0;
        for (long i = 0; i < n; i++)
        {
            double d = (double)a[i] - b[i];
            num += d * d;
            den += (double)b[i] * b[i];
        }

        return den > 0 ? num / den : num;
    }

    private static GgmlMoeSpec SpecOf(MoeLayer l)
    {
        return new GgmlMoeSpec(l.Hidden, l.ExpertFfn, l.Routing.ExpertCount, l.Routing.ExpertsPerToken, l.Routing.NormalizeWeights,
            (int)l.Router.Format, (int)l.Gate.Format, (int)l.Up.Format, (int)l.Down.Format);
    }

    // GgmlMoeBlock builds softmax → top-K → (renormalize) → SiLU-gated experts over contiguous stacks. Anything else
    // would be a different computation than Ferrum's, so there is no comparison rather than a wrong one.
    private static string? GgmlSupport(MoeLayer l)
    {
        var r = l.Routing;
        var w = l;
        var arch = l.Architecture;
        if (r.Gating != MoeGating.Softmax)
        {
            return $"{arch}: {r.Gating} gating is not built in the ggml reference graph";
        }

        if (r.Activation != MoeActivation.SiluGlu)
        {
            return $"{arch}: the {r.Activation} activation is not built in the ggml reference graph";
        }

        if (r.WeightScale is not (0f or 1f) || r.ExpertGroupCount > 1)
        {
            return $"{arch}: weight scaling and group-limited routing are not built in the ggml reference graph";
        }

        if (w.HasSharedExpert || w.SharedGateInput != null)
        {
            return $"{arch}: shared experts are not built in the ggml reference graph";
        }

        if (w.RouterBias != null || w.SelectionBias != null || w.GateBias != null || w.UpBias != null || w.DownBias != null)
        {
            return $"{arch}: router/expert biases are not built in the ggml reference graph";
        }

        if (l.FusedGateUp)
        {
            return $"{arch}: fused gate/up tensors are not built in the ggml reference graph";
        }

        bool contiguous = w.Gate.ExpertStride == w.Gate.ExpertBytes && w.Up.ExpertStride == w.Up.ExpertBytes && w.Down.ExpertStride == w.Down.ExpertBytes;
        return contiguous ? null : $"{arch}: non-contiguous expert stacks are not built in the ggml reference graph";
    }

    private sealed class SplitMix(ulong seed)
    {
        private ulong _s = seed;

        public float NextFloat()
        {
            ulong z = _s += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (float)((z >> 40) / (double)(1UL << 24) * 2 - 1);
        }
    }
}
