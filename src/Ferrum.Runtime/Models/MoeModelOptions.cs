using Ferrum.Backends;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Models;

/// <summary>Settings of a <see cref="MoeModel"/>.</summary>
public sealed record MoeModelOptions
{
    /// <summary>Threads that run the model (dense projections, attention and the default MoE blocks), the caller included.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Element type of the KV cache: <see cref="GgmlType.F16"/> (default, as llama.cpp) or <see cref="GgmlType.F32"/>.</summary>
    public GgmlType KvCacheType { get; init; } = GgmlType.F16;

    /// <summary>Most tokens one forward pass handles; longer prompts run in several passes. Sizes the scratch memory.</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>
    /// Creates the MoE block of a layer (file, layer index). Null: the CPU block over the file's tensors, run by the
    /// model's worker pool. The model disposes what the factory returns.
    /// </summary>
    public Func<GgufFile, int, IMoeExecutor>? MoeBlockFactory { get; init; }
}
