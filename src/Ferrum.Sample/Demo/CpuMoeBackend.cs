using Ferrum.Moe;

namespace Ferrum.Sample.Demo;

/// <summary>The CPU backend: one <see cref="CpuMoeLayer"/> per MoE layer, sharing one worker pool.</summary>
public sealed unsafe class CpuMoeBackend : IMoeBackend
{
    private readonly CpuWorkerPool _pool;
    private readonly CpuMoeLayer[] _layers;

    public CpuMoeBackend(IReadOnlyList<GgufMoeLayer> layers, int threads, int maxTokens)
    {
        _pool = new CpuWorkerPool(threads);
        _layers = layers.Select(l => new CpuMoeLayer(l.Weights, l.Routing, new CpuMoeOptions { Threads = threads, MaxTokens = maxTokens, Workers = _pool })).ToArray();
    }

    public string Name => "cpu";

    /// <summary>"specialized" when every gate/up/down kernel was generated for the declared shape, else "generic".</summary>
    public string KernelPath
    {
        get
        {
            var paths = _layers.SelectMany(l => l.KernelPaths).Where(p => !p.StartsWith("router", StringComparison.Ordinal)).ToList();
            var specialized = paths.Count(p => p.Contains("specialized", StringComparison.Ordinal));
            return specialized == paths.Count ? "specialized" : specialized == 0 ? "generic" : $"mixed ({specialized}/{paths.Count} specialized)";
        }
    }

    public void Forward(int layer, float* x, float* y, int tokens) => _layers[layer].Forward(x, y, tokens);

    public void Dispose()
    {
        foreach (var l in _layers)
        {
            l.Dispose();
        }

        _pool.Dispose();
    }
}
