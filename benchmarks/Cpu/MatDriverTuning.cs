namespace Ferrum.Benchmarks.Cpu;

/// <summary>Sets the CPU kernels' software-prefetch distance for an A/B run (0 = off).</summary>
internal static class MatDriverTuning
{
    public static void Set(int rows) => Ferrum.Backends.Cpu.MatDriver.PrefetchRows = rows;
}
