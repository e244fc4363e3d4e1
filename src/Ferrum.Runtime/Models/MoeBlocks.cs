using Ferrum.Backends;
using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Models;

/// <summary>The one place the whole-model forward constructs its default MoE blocks.</summary>
internal static class MoeBlocks
{
    /// <summary>
    /// The default block of <paramref name="layer"/>: the one loader (<see cref="MoeLayer.Load"/>) and the CPU executor on
    /// the model's shared pool. The executor holds its own lease on the mapping, so the description is released at once.
    /// </summary>
    public static IMoeExecutor CreateCpu(GgufFile file, int layer, CpuWorkerPool pool, int maxTokens)
    {
        using var description = MoeLayer.Load(file, layer);
        return new CpuMoeExecutor(description, new CpuMoeOptions { Workers = pool, MaxTokens = maxTokens });
    }
}
