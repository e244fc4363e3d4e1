using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Where the CPU kernel of each format comes from: a pin (<see cref="PinVariable"/>), else the decision measured
/// by <see cref="CpuKernelTuner"/> and cached in <see cref="CachePath"/> (loaded once per process, never measured
/// on the hot path), else the instruction-set rule (the highest level the format has).
/// </summary>
public static class CpuTuning
{
    /// <summary>Environment variable that pins kernels: <c>avx2</c> for every format, or <c>q4_K=avx2,q6_K=scalar</c>.</summary>
    public const string PinVariable = "FERRUM_CPU_KERNELS";

    private static readonly object Gate = new();
    private static CpuTuningState? _current;

    /// <summary>The decisions this process uses (read from the environment and the cache file on first use).</summary>
    /// <exception cref="FormatException"><see cref="PinVariable"/> is set to something that is not a valid pin list.</exception>
    public static CpuTuningState Current
    {
        get
        {
            if (Volatile.Read(ref _current) is { } s)
            {
                return s;
            }

            lock (Gate)
            {
                return _current ??= CpuTuningState.Load(Environment.GetEnvironmentVariable, CpuIdentity.Current);
            }
        }
    }

    /// <summary>The cache file this process reads and writes.</summary>
    public static string CachePath => Current.CachePath;

    /// <summary>
    /// Measures every format that is not pinned, writes the cache file and makes the new decisions current in this
    /// process. Pinned formats are not measured.
    /// </summary>
    public static CpuTuningResult Refresh(Action<int, int, CpuKernelDecision>? progress = null)
    {
        var state = Current;
        var result = CpuKernelTuner.Measure(CpuKernels.Formats.Where(t => state.Pins.For(t) is null), progress);
        CpuTuningFile.Write(state.CachePath, result);
        lock (Gate)
        {
            _current = state with { Result = result, Ignored = null };
        }

        return result;
    }

    /// <summary>The cache directory: <c>$XDG_CACHE_HOME/ferrum</c>, else <c>~/.cache/ferrum</c> (LocalApplicationData\ferrum on Windows).</summary>
    public static string CacheDirectory(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (environment("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "ferrum");
        }

        if (OperatingSystem.IsWindows())
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "ferrum");
        }

        var home = environment("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "ferrum");
    }
}

/// <summary>One process's kernel choices: the pins, the cached decisions (if valid) and why a cache file was ignored.</summary>
/// <param name="Pins">Pins from <see cref="CpuTuning.PinVariable"/>.</param>
/// <param name="CachePath">The cache file.</param>
/// <param name="Result">The cached decisions, or null.</param>
/// <param name="Ignored">Why the cache file was not used, or null.</param>
public sealed record CpuTuningState(CpuKernelPins Pins, string CachePath, CpuTuningResult? Result, string? Ignored)
{
    /// <summary>Reads the pins and the cache file named by <paramref name="environment"/>, for <paramref name="identity"/>. Measures nothing.</summary>
    /// <exception cref="FormatException">the pin variable is not a valid pin list (the message names it).</exception>
    public static CpuTuningState Load(Func<string, string?> environment, CpuIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var pins = CpuKernelPins.Parse(environment(CpuTuning.PinVariable), CpuTuning.PinVariable);
        var path = Path.Combine(CpuTuning.CacheDirectory(environment), CpuTuningFile.FileName);
        var result = CpuTuningFile.Read(path, identity, out var ignored);
        return new CpuTuningState(pins, path, result, ignored);
    }

    /// <summary>
    /// The SIMD level of the kernel for <paramref name="type"/>: <paramref name="pins"/> first (an option), then the
    /// environment's pins, then the cached decision, then the highest level the machine supports.
    /// </summary>
    public SimdLevel LevelFor(GgmlType type, CpuKernelPins? pins = null) =>
        pins?.For(type) ?? Pins.For(type) ?? Result?.For(type)?.Level ?? CpuSimd.Supported;

    /// <summary>Where <see cref="LevelFor"/>'s answer comes from: "pinned", "measured" or "isa rule".</summary>
    public string SourceOf(GgmlType type, CpuKernelPins? pins = null) =>
        pins?.For(type) is not null || Pins.For(type) is not null ? "pinned" : Result?.For(type) is not null ? "measured" : "isa rule";
}
