using System.Diagnostics;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Sample.Demo;

/// <summary>One measured phase of one backend: a row of the demo's table.</summary>
public sealed record PhaseResult(
    string Backend,
    string Phase,
    int Tokens,
    string KernelPath,
    double TokensPerSecond,
    double MicrosPerLayer,
    double ExpertGBPerSecond,
    double BandwidthPercent,
    double MaxNmse);

/// <summary>
/// Runs every MoE layer of a GGUF model the way the demo and <c>ferrum run</c> measure it: decode (one token at a
/// time through all layers) and prefill (a batch through all layers), each layer's output added to its input as the
/// residual stream does, random unit-variance input tokens. Checks a sample of tokens against <see cref="ReferenceMoe"/>.
/// </summary>
public sealed unsafe class ModelRunner : IDisposable
{
    private const int WarmupTokens = 16;
    private readonly MoeLayer[] _layers;

    public ModelRunner(GgufFile file)
    {
        File = file;
        HyperParameters = file.GetMoeHyperParameters();
        var layers = new List<MoeLayer>();
        for (var i = 0; i < HyperParameters.BlockCount; i++)
        {
            if (HyperParameters.IsMoeLayer(i))
            {
                layers.Add(MoeLayer.Load(file, i));
            }
        }

        if (layers.Count == 0)
        {
            throw new GgufException($"{file.Path}: no MoE layers (block_count {HyperParameters.BlockCount}, leading dense {HyperParameters.LeadingDenseBlockCount})");
        }

        _layers = layers.ToArray();
        Prefault();
    }

    public GgufFile File { get; }

    public MoeHyperParameters HyperParameters { get; }

    public IReadOnlyList<MoeLayer> Layers => _layers;

    public int Hidden => _layers[0].Hidden;

    /// <summary>Bytes of routed-expert weights one expert reads in layer <paramref name="l"/> (gate + up + down).</summary>
    public long ExpertBytes(int l)
    {
        var w = _layers[l];
        return w.Gate.ExpertBytes + w.Up.ExpertBytes + w.Down.ExpertBytes;
    }

    /// <summary>Bytes of shared-expert weights of layer <paramref name="l"/> (read once per pass).</summary>
    public long SharedBytes(int l)
    {
        var w = _layers[l];
        return w.SharedGate is null ? 0 : w.SharedGate.ExpertBytes + w.SharedUp!.ExpertBytes + w.SharedDown!.ExpertBytes;
    }

    /// <summary>Measures decode: <paramref name="tokens"/> tokens, one at a time through all layers.</summary>
    public PhaseResult Decode(LayerExecutors backend, int tokens, double bandwidth, int checkTokens)
    {
        int hidden = Hidden, n = _layers.Length;
        var rng = new Random(7);
        var h = new float[hidden];
        var y = new float[hidden];
        var checks = new List<(int Layer, float[] In, float[] Out)>();

        // Warm-up tokens: the JIT's tiered compilation reaches its optimized code only after a few dozen calls.
        for (var t = 0; t < WarmupTokens; t++)
        {
            RandomToken(rng, h);
            RunToken(backend, h, y, null, t);
        }

        long bytes = 0;
        var elapsed = TimeSpan.Zero;
        for (var t = 0; t < tokens; t++)
        {
            RandomToken(rng, h);
            var start = Stopwatch.GetTimestamp();
            RunToken(backend, h, y, t < checkTokens ? checks : null, t);
            elapsed += Stopwatch.GetElapsedTime(start);
            for (var l = 0; l < n; l++)
            {
                bytes += (ExpertBytes(l) * _layers[l].Routing.ExpertsPerToken) + SharedBytes(l);
            }
        }

        var nmse = checks.Max(c => Nmse(c.Out, Reference(c.Layer, c.In)));
        var gbs = bytes / elapsed.TotalSeconds / 1e9;
        return new PhaseResult(backend.Name, "decode", 1, backend.KernelPath, tokens / elapsed.TotalSeconds, elapsed.TotalMicroseconds / tokens / n, gbs, 100 * gbs / bandwidth, nmse);
    }

    /// <summary>Measures prefill: a batch of <paramref name="tokens"/> tokens through all layers, best of <paramref name="repeats"/>.</summary>
    public PhaseResult Prefill(LayerExecutors backend, int tokens, int repeats, double bandwidth, int checkTokens)
    {
        int hidden = Hidden, n = _layers.Length;
        var rng = new Random(11);
        var x = new float[tokens * hidden];
        var h = new float[tokens * hidden];
        var y = new float[tokens * hidden];
        var layerInputs = new float[n][];
        var layerOutputs = new float[n][];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)Gaussian(rng);
        }

        var best = TimeSpan.MaxValue;
        for (var rep = 0; rep <= repeats; rep++)
        {
            x.CopyTo(h, 0);
            var start = Stopwatch.GetTimestamp();
            fixed (float* hp = h, yp = y)
            {
                for (var l = 0; l < n; l++)
                {
                    if (rep == 0)
                    {
                        layerInputs[l] = (float[])h.Clone();
                    }

                    backend.Forward(l, hp, yp, tokens);
                    if (rep == 0)
                    {
                        layerOutputs[l] = (float[])y.Clone();
                    }

                    AddResidual(hp, yp, tokens * hidden);
                }
            }

            // Pass 0 is the warm-up.
            if (rep > 0)
            {
                best = TimeSpan.FromTicks(Math.Min(best.Ticks, Stopwatch.GetElapsedTime(start).Ticks));
            }
        }

        long bytes = 0;
        for (var l = 0; l < n; l++)
        {
            bytes += (DistinctExperts(l, layerInputs[l], tokens) * ExpertBytes(l)) + SharedBytes(l);
        }

        var nmse = 0.0;
        var step = Math.Max(1, tokens / Math.Max(1, checkTokens));
        foreach (var l in new[] { 0, n - 1 }.Distinct())
        {
            for (var t = 0; t < tokens; t += step)
            {
                var input = layerInputs[l].AsSpan(t * hidden, hidden).ToArray();
                var output = layerOutputs[l].AsSpan(t * hidden, hidden).ToArray();
                nmse = Math.Max(nmse, Nmse(output, Reference(l, input)));
            }
        }

        var gbs = bytes / best.TotalSeconds / 1e9;
        return new PhaseResult(backend.Name, "prefill", tokens, backend.KernelPath, tokens / best.TotalSeconds, best.TotalMicroseconds / n, gbs, 100 * gbs / bandwidth, nmse);
    }

    public void Dispose()
    {
        foreach (var l in _layers)
        {
            l.Dispose();
        }
    }

    /// <summary>
    /// Touches every page of the expert weights once, so timed passes measure the kernels on a loaded model rather
    /// than the first page faults of the mapping.
    /// </summary>
    private void Prefault()
    {
        var sink = 0;
        foreach (var l in _layers)
        {
            foreach (var (_, m) in l.Matrices())
            {
                var data = m.ExpertPointer(0);
                var bytes = ((m.Experts - 1) * m.ExpertStride) + m.ExpertBytes;
                for (long i = 0; i < bytes; i += 4096)
                {
                    sink += data[i];
                }
            }
        }

        GC.KeepAlive(sink);
    }

    private void RunToken(LayerExecutors backend, float[] h, float[] y, List<(int, float[], float[])>? checks, int token)
    {
        fixed (float* hp = h, yp = y)
        {
            for (var l = 0; l < _layers.Length; l++)
            {
                var input = checks != null ? (float[])h.Clone() : null;
                backend.Forward(l, hp, yp, 1);
                if (checks != null)
                {
                    checks.Add((l, input!, (float[])y.Clone()));
                }

                AddResidual(hp, yp, h.Length);
            }
        }
    }

    private float[] Reference(int l, float[] input)
    {
        var y = new float[input.Length];
        ReferenceMoe.Forward(_layers[l], input, y);
        return y;
    }

    /// <summary>How many distinct experts the batch routes to in layer <paramref name="l"/> (each is read once).</summary>
    private int DistinctExperts(int l, float[] inputs, int tokens)
    {
        var layer = _layers[l];
        var r = layer.Routing;
        var used = new bool[r.ExpertCount];
        var logits = new float[r.ExpertCount];
        var ids = new int[r.ExpertsPerToken];
        var weights = new float[r.ExpertsPerToken];
        var scratch = new float[2 * r.ExpertCount];
        for (var t = 0; t < tokens; t++)
        {
            ReferenceMoe.MatVec(layer.Router, 0, inputs.AsSpan(t * Hidden, Hidden), logits);
            ReferenceMoe.AddBias(layer.RouterBias, 0, logits);

            fixed (float* lp = logits, wp = weights, sp = scratch)
            fixed (int* ip = ids)
            {
                MoeRouter.Route(r, lp, ReferenceMoe.Floats(layer.SelectionBias), ip, wp, sp, t);
            }

            foreach (var e in ids)
            {
                used[e] = true;
            }
        }

        return used.Count(u => u);
    }

    private static void AddResidual(float* h, float* y, int n)
    {
        for (var i = 0; i < n; i++)
        {
            h[i] += y[i];
        }
    }

    /// <summary>Normalized mean squared error of <paramref name="actual"/> against <paramref name="expected"/>.</summary>
    public static double Nmse(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        double err = 0, norm = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = (double)actual[i] - expected[i];
            err += d * d;
            norm += (double)expected[i] * expected[i];
        }

        return norm == 0 ? (err == 0 ? 0 : double.PositiveInfinity) : err / norm;
    }

    private static void RandomToken(Random rng, float[] h)
    {
        for (var i = 0; i < h.Length; i++)
        {
            h[i] = (float)Gaussian(rng);
        }
    }

    private static double Gaussian(Random rng) => DemoModel.Gaussian(rng);
}
