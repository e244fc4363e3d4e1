namespace Ferrum.Backends.Cpu;

/// <summary>Settings of a <see cref="CpuMoeExecutor"/>.</summary>
public sealed record CpuMoeOptions
{
    /// <summary>Most threads a layer may use; more is refused as a mistake (thread creation would fail or thrash).</summary>
    public const int MaxThreads = 1024;

    /// <summary>Threads that run the layer, the calling thread included (default: all processors).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest token batch one pass handles; larger inputs run in several passes. Sizes the scratch memory.</summary>
    public int MaxTokens { get; init; } = 512;

    /// <summary>A pool shared with other layers (its thread count wins over <see cref="Threads"/>); the layer does not dispose it.</summary>
    public CpuWorkerPool? Workers { get; init; }

    /// <summary>
    /// Kernels pinned for this layer (e.g. <c>CpuKernelPins.Parse("q4_K=scalar")</c>), ahead of the
    /// FERRUM_CPU_KERNELS variable and the measured decisions; a pinned format also overrides kernels bound by a
    /// generated model type. Null: no pins of its own.
    /// </summary>
    public CpuKernelPins? KernelPins { get; init; }

    /// <summary><see cref="ArgumentOutOfRangeException"/> naming the setting that is out of range.</summary>
    public void Validate()
    {
        if (Workers == null && (Threads < 1 || Threads > MaxThreads))
        {
            throw new ArgumentOutOfRangeException(nameof(Threads), Threads, $"threads must be in 1..{MaxThreads}");
        }

        if (MaxTokens < 1 || MaxTokens > 1 << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, "MaxTokens must be in 1..1048576");
        }
    }
}
