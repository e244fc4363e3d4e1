using Ferrum.Backends;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Sample.Demo;

/// <summary>One backend's executors for every MoE layer of a model, as the demo and <c>ferrum run</c> measure them.</summary>
public sealed unsafe class LayerExecutors : IDisposable
{
    private readonly IMoeExecutor[] _executors;
    private readonly IDisposable? _owned;

    /// <summary>
    /// Creates one executor per layer on <paramref name="backend"/>, through the generated model type where the layer
    /// has its declared shape (<see cref="DeclaredModel"/>); <paramref name="owned"/> is disposed last (a worker pool, a device context).
    /// </summary>
    public LayerExecutors(IMoeBackend backend, GgufFile file, IReadOnlyList<MoeLayer> layers, string device, IDisposable? owned = null)
    {
        var made = new List<IMoeExecutor>();
        try
        {
            foreach (var layer in layers)
            {
                made.Add(DeclaredModel.Create(file, layer, backend));
            }
        }
        catch
        {
            made.ForEach(e => e.Dispose());
            owned?.Dispose();
            throw;
        }

        _executors = made.ToArray();
        _owned = owned;
        Name = backend.Name;
        Device = device;
    }

    /// <summary>The backend's name.</summary>
    public string Name { get; }

    /// <summary>The device, for the table.</summary>
    public string Device { get; }

    /// <summary>"specialized" when every gate/up/down kernel was generated for the declared shape, else "generic"; the device for GPUs.</summary>
    public string KernelPath
    {
        get
        {
            var paths = _executors.SelectMany(l => l.KernelPaths).Where(p => !p.StartsWith("router", StringComparison.Ordinal)).ToList();
            var specialized = paths.Count(p => p.Contains("specialized", StringComparison.Ordinal));
            var kind = specialized == paths.Count ? "specialized" : specialized == 0 ? "generic" : $"mixed ({specialized}/{paths.Count} specialized)";
            return Name == "cpu" ? kind : $"{Device}, {kind}";
        }
    }

    /// <summary>Runs layer <paramref name="layer"/> on <paramref name="tokens"/> rows.</summary>
    public void Forward(int layer, float* x, float* y, int tokens) => _executors[layer].Forward(x, y, tokens);

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var e in _executors)
        {
            e.Dispose();
        }

        _owned?.Dispose();
    }
}
