using Ferrum.Backends.Cpu;
using Ferrum.Backends.OpenCL;
using Ferrum.Gguf;
using Spectre.Console;

namespace Ferrum.Sample.Demo;

/// <summary>Settings of one measurement run (the demo's defaults, or <c>ferrum run</c>'s options).</summary>
public sealed record MeasurementOptions
{
    public int Threads { get; init; } = Environment.ProcessorCount;

    public int DecodeTokens { get; init; } = 64;

    public int PrefillTokens { get; init; } = 128;

    public int PrefillRepeats { get; init; } = 2;

    /// <summary>Tokens per phase compared with the exact reference.</summary>
    public int CheckTokens { get; init; } = 2;

    /// <summary>NMSE against the exact float reference above which the run fails (activations are int8 in the kernels).</summary>
    public double MaxNmse { get; init; } = 1e-3;
}

/// <summary>Runs the decode and prefill measurement on every available backend and prints the table.</summary>
public static class Measurement
{
    /// <summary>Returns 0 when every backend's error is within <see cref="MeasurementOptions.MaxNmse"/>, else 2.</summary>
    public static int Run(GgufFile file, MeasurementOptions options, IAnsiConsole console)
    {
        using var runner = new ModelRunner(file);
        var hp = runner.HyperParameters;
        console.MarkupLine($"[bold]{Markup.Escape(Path.GetFileName(file.Path))}[/]: {Markup.Escape(hp.Architecture)}, {runner.Layers.Count} MoE layers, " +
            $"{hp.ExpertCount} experts (top-{hp.ExpertUsedCount}), hidden {runner.Hidden}, expert FFN {runner.Layers[0].ExpertFfn}" +
            (hp.SharedExpertCount > 0 ? $", {hp.SharedExpertCount} shared" : string.Empty));
        PrintLayers(runner, console);

        var bandwidth = ReadBandwidth.Measure(options.Threads, 512L << 20, 3);
        console.MarkupLine($"measured read bandwidth: [bold]{bandwidth:F1} GB/s[/] ({options.Threads} threads, SIMD {CpuSimd.Level})");

        var results = new List<PhaseResult>();
        foreach (var backend in Backends(runner, options, console))
        {
            using (backend)
            {
                results.Add(runner.Decode(backend, options.DecodeTokens, bandwidth, options.CheckTokens));
                results.Add(runner.Prefill(backend, options.PrefillTokens, options.PrefillRepeats, bandwidth, options.CheckTokens));
            }
        }

        PrintTable(results, options, console);
        var worst = results.Max(r => r.MaxNmse);
        if (worst > options.MaxNmse)
        {
            console.MarkupLine($"[red]error: NMSE {worst:E2} against the exact reference exceeds {options.MaxNmse:E0}[/]");
            return 2;
        }

        return 0;
    }

    private static IEnumerable<LayerExecutors> Backends(ModelRunner runner, MeasurementOptions options, IAnsiConsole console)
    {
        // One worker pool shared by every layer, as a whole model runs them.
        var pool = new CpuWorkerPool(options.Threads);
        yield return new LayerExecutors(new CpuBackend(new CpuMoeOptions { Workers = pool, MaxTokens = Math.Max(options.PrefillTokens, 1) }), runner.File, runner.Layers, "cpu", pool);
        if (OpenCLMoeBackend.Pick() is { } device)
        {
            LayerExecutors? opencl = null;
            try
            {
                opencl = OpenCLMoeBackend.Executors(runner, device);
            }
            catch (Exception e) when (e is OpenCLException or NotSupportedException or ArgumentException or GgufException)
            {
                console.MarkupLine($"[yellow]opencl skipped on {Markup.Escape(device.DisplayName)}: {Markup.Escape(e.Message)}[/]");
            }

            if (opencl is not null)
            {
                yield return opencl;
            }
        }
        else
        {
            console.MarkupLine("[grey]opencl: no GPU device (set FERRUM_OPENCL_DEVICE to measure another device, e.g. pocl)[/]");
        }
    }

    private static void PrintLayers(ModelRunner runner, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("MoE layers");
        table.AddColumn("layer", c => c.RightAligned());
        table.AddColumn("router");
        table.AddColumn("gate");
        table.AddColumn("up");
        table.AddColumn("down");
        table.AddColumn("expert MB", c => c.RightAligned());
        foreach (var l in runner.Layers)
        {
            var w = l;
            table.AddRow(
                l.Index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                w.Router.Info.Name,
                w.Gate.Info.Name + (l.FusedGateUp ? " (fused)" : string.Empty),
                w.Up.Info.Name,
                w.Down.Info.Name,
                ((w.Gate.ExpertBytes + w.Up.ExpertBytes + w.Down.ExpertBytes) / 1e6).ToString("F2", System.Globalization.CultureInfo.InvariantCulture));
        }

        console.Write(table);
    }

    private static void PrintTable(List<PhaseResult> results, MeasurementOptions options, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("MoE forward, all layers");
        table.AddColumn("backend");
        table.AddColumn("phase");
        table.AddColumn("path", c => c.NoWrap());
        table.AddColumn("tokens/s", c => c.RightAligned());
        table.AddColumn("µs/layer", c => c.RightAligned());
        table.AddColumn("GB/s", c => c.RightAligned());
        table.AddColumn("% BW", c => c.RightAligned());
        table.AddColumn("max NMSE", c => c.RightAligned().NoWrap());
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        foreach (var r in results)
        {
            var err = r.MaxNmse.ToString("E2", inv);
            table.AddRow(
                r.Backend,
                r.Tokens == 1 ? "decode" : $"prefill {r.Tokens}",
                Markup.Escape(r.KernelPath),
                r.TokensPerSecond.ToString("F1", inv),
                r.MicrosPerLayer.ToString("F0", inv),
                r.ExpertGBPerSecond.ToString("F1", inv),
                r.BandwidthPercent.ToString("F0", inv) + "%",
                r.MaxNmse <= options.MaxNmse ? err : $"[red]{err}[/]");
        }

        console.Write(table);
        console.MarkupLine("[grey]GB/s: expert weights read (distinct experts routed to × their bytes) per second; % BW: of the measured read bandwidth.[/]");
        console.MarkupLine($"[grey]NMSE: output against an exact float reference (reference dequantization, double sums) on {options.CheckTokens} tokens per phase; " +
            "ggml's own int8-activation path sits at 1e-4…5e-4 on K-quant down projections.[/]");
    }
}
