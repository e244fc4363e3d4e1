using Ferrum.Backends;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Models;

/// <summary>
/// The one place the whole-model forward constructs MoE blocks (kept small so it is easy to re-point when the
/// MoE layer API changes): the default CPU executor over a layer's GGUF tensors.
/// </summary>
internal static class MoeBlocks
{
    /// <summary>The default block of <paramref name="layer"/>: <see cref="GgufMoeLayer"/> + <see cref="CpuMoeLayer"/> on the shared pool.</summary>
    public static IMoeExecutor CreateCpu(GgufFile file, int layer, CpuWorkerPool pool, int maxTokens)
    {
        var source = GgufMoeLayer.Load(file, layer);
        try
        {
            var cpu = new CpuMoeLayer(source.Weights, source.Routing, new CpuMoeOptions { Workers = pool, Threads = pool.Count, MaxTokens = maxTokens });
            return new Owning(cpu, source);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>An executor that also disposes the tensor source it runs over.</summary>
    private sealed unsafe class Owning(CpuMoeLayer inner, GgufMoeLayer source) : IMoeExecutor
    {
        public string Backend => inner.Backend;

        public int Hidden => inner.Hidden;

        public IReadOnlyList<string> KernelPaths => inner.KernelPaths;

        public void Forward(ReadOnlySpan<float> x, Span<float> y) => inner.Forward(x, y);

        public void Forward(float* x, float* y, int tokens) => inner.Forward(x, y, tokens);

        public void Dispose()
        {
            inner.Dispose();
            source.Dispose();
        }
    }
}
