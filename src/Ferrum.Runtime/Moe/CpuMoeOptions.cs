namespace Ferrum.Moe;

/// <summary>Settings of a <see cref="CpuMoeLayer"/>.</summary>
public sealed record CpuMoeOptions
{
    /// <summary>Threads that run the layer, the calling thread included (default: all processors).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest token batch one pass handles; larger inputs run in several passes. Sizes the scratch memory.</summary>
    public int MaxTokens { get; init; } = 512;

    /// <summary>A pool shared with other layers (its thread count wins over <see cref="Threads"/>); the layer does not dispose it.</summary>
    public CpuWorkerPool? Workers { get; init; }
}
