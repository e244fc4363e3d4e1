using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Sample.Demo;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary>
/// <c>ferrum bench [--model FILE | --formats all|q4_0,q8_0,...] [--tokens 1,8,32,512] [--threads N] [--json]</c>:
/// Ferrum's CPU MoE block against ggml's (llama.cpp build_moe_ffn), plain and repacked (CPU_REPACK), on the same
/// weights, inputs and thread count, when ggml's natives are found. <c>--formats</c> runs one synthetic file per weight
/// format (<see cref="BenchFormats"/>) and prints one table with a format column.
/// </summary>
public static partial class BenchCommand
{
    private const int MaxTokens = 4096;

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "MoE GGUF file (default: the demo model, built on first use)." };
        var tokens = new Option<string>("--tokens") { Description = "Comma-separated token counts per pass.", DefaultValueFactory = _ => "1,8,32,512" };
        var threads = new Option<int>("--threads") { Description = "Threads, the same for Ferrum and ggml (default: all processors).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the table." };
        var formats = new Option<string?>("--formats") { Description = "Instead of --model: 'all' or a comma-separated list of weight formats (q4_0,q8_0,...), each on a synthetic MoE file written once to the cache." };

        // Undocumented: the --formats files' shape layers,hidden,ffn,experts,topk (tests use a small one).
        var shape = new Option<string?>("--shape") { Hidden = true };

        // Undocumented: timed seconds per side and token count (tests use a small budget).
        var seconds = new Option<double>("--seconds") { Hidden = true, DefaultValueFactory = _ => 2.0 };
        var cmd = new Command("bench", "Time the MoE block of Ferrum against ggml (llama.cpp) on the same weights and inputs.");
        cmd.Options.Add(model);
        cmd.Options.Add(tokens);
        cmd.Options.Add(threads);
        cmd.Options.Add(json);
        cmd.Options.Add(seconds);
        cmd.Options.Add(formats);
        cmd.Options.Add(shape);
        cmd.SetAction(parse => CliErrors.Guard(parse, () =>
        {
            var counts = ParseTokens(parse.GetValue(tokens)!);
            int t = parse.GetValue(threads);
            if (t < 1)
            {
                throw new ArgumentException($"--threads must be at least 1, got {t}");
            }

            double s = parse.GetValue(seconds);
            if (!(s > 0 && s <= 600))
            {
                throw new ArgumentException($"--seconds must be in (0, 600], got {s.ToString(CultureInfo.InvariantCulture)}");
            }

            var path = parse.GetValue(model);
            if (parse.GetValue(formats) is { } list)
            {
                if (path != null)
                {
                    throw new ArgumentException("--formats benchmarks its own synthetic files; give either --model or --formats");
                }

                var size = parse.GetValue(shape) is { } text ? BenchFormats.ParseShape(text) : BenchFormats.Default;
                RunFormats(BenchFormats.Parse(list), size, counts, t, s, parse.GetValue(json), Console.Out);
                return 0;
            }

            if (parse.GetValue(shape) != null)
            {
                throw new ArgumentException("--shape applies to --formats only");
            }

            if (path == null)
            {
                path = DemoModel.CachePath;
                BuildDemo(path);
            }

            Run(path, counts, t, s, parse.GetValue(json), Console.Out);
            return 0;
        }));
        return cmd;
    }

    /// <summary>Parses "1,8,32"; throws naming the bad entry.</summary>
    public static int[] ParseTokens(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var counts = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out counts[i]) || counts[i] < 1 || counts[i] > MaxTokens)
            {
                throw new ArgumentException($"--tokens: '{parts[i]}' is not a token count in 1..{MaxTokens} (expected e.g. 1,8,32,512)");
            }
        }

        return counts;
    }

    private static void BuildDemo(string path)
    {
        if (File.Exists(path))
        {
            return;
        }

        // Progress on stderr, so stdout stays the table or the JSON.
        var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        err.Progress().Start(ctx =>
        {
            var task = ctx.AddTask("building the demo model", maxValue: 1);
            DemoModel.EnsureBuilt(path, (p, _) => task.Value = p);
            task.Value = 1;
        });
    }

    // Every token count in order, each with its own input seed; progress on stderr (prefixed, e.g. "q4_0, ") unless null.
    private static List<BenchRow> MeasureAll(BenchRunner bench, int[] tokens, string? progress)
    {
        var rows = new List<BenchRow>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (progress is not null)
            {
                Console.Error.WriteLine($"measuring {progress}{tokens[i]} token(s)...");
            }

            rows.Add(bench.Measure(tokens[i], 0x5EED + (ulong)i));
        }

        return rows;
    }

    /// <summary>Runs the benchmark and writes the table (or JSON) to <paramref name="o"/>.</summary>
    public static void Run(string path, int[] tokens, int threads, double seconds, bool json, TextWriter o)
    {
        using var bench = new BenchRunner(path, threads, seconds);
        var rows = MeasureAll(bench, tokens, json ? null : "");

        if (json)
        {
            WriteJson(path, bench, rows, o);
        }
        else
        {
            WriteTable(path, bench, rows, o);
        }
    }

    private static string? GgmlNote(BenchRunner b) =>
        !b.GgmlAvailable ? $"ggml natives not found (set {GgmlLibrary.DirectoryVariable} to a folder with libggml-base and libggml-cpu, or restore LLamaSharp.Backend.Cpu 0.30.0); Ferrum only"
        : b.GgmlUnsupported is { } why ? $"no ggml comparison: {why}"
        : null;

    private static void WriteTable(string path, BenchRunner b, List<BenchRow> rows, TextWriter o)
    {
        var hp = b.Hyper;
        o.WriteLine($"{Path.GetFileName(path)}: {hp.Architecture}, {b.LayerCount} MoE layer(s) rotated, hidden {hp.EmbeddingLength}, expert FFN {hp.ExpertFeedForwardLength}, {hp.ExpertCount} experts, top-{hp.ExpertUsedCount}, {b.ExpertBytesPerLayer / 1e6:F0} MB of experts per layer");
        o.WriteLine($"threads {b.Threads} (both sides), SIMD {CpuSimd.Level}, ggml {(b.GgmlRuns ? GgmlLibrary.Variant + " from " + GgmlLibrary.Folder : "-")}");
        o.WriteLine("kernels (first MoE layer): " + string.Join("; ", b.KernelPaths));
        if (RepackLine(b) is { } repack)
        {
            o.WriteLine(repack);
        }

        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(text) });
        console.Profile.Width = 240; // a redirected output would otherwise wrap the table at 80 columns
        var table = new Table().Border(TableBorder.Markdown);
        foreach (var c in new[] { "tokens", "Ferrum median ms", "Ferrum min ms", "ggml median ms", "ggml min ms", "repack median ms", "repack min ms", "Ferrum/ggml", "Ferrum/repack", "expert GB/s", "% read BW", "% int8 peak", "NMSE F·g", "NMSE F·r", "NMSE r·g", "passes" })
        {
            table.AddColumn(new TableColumn(c).RightAligned());
        }

        foreach (var r in rows)
        {
            table.AddRow(
                r.Tokens.ToString(CultureInfo.InvariantCulture),
                F(r.FerrumMedian, "F3"),
                F(r.FerrumMin, "F3"),
                F(r.GgmlMedian, "F3"),
                F(r.GgmlMin, "F3"),
                F(r.RepackMedian, "F3"),
                F(r.RepackMin, "F3"),
                F(r.RatioPlain, "F2"),
                F(r.RatioRepack, "F2"),
                F(r.ExpertGbPerSecond, "F1"),
                F(r.BandwidthPercent, "F0"),
                F(r.Int8PeakPercent, "F0"),
                F(r.Nmse, "E1"),
                F(r.NmseRepack, "E1"),
                F(r.NmsePlainRepack, "E1"),
                string.Join("/", new[] { r.FerrumPasses, r.GgmlPasses, r.RepackPasses }.Where(p => p > 0)));
        }

        console.Write(table);

        // Spectre pads the table with blank lines of spaces; keep the markdown rows only.
        foreach (var line in text.ToString().Split('\n'))
        {
            if (line.Trim().Length > 0)
            {
                o.WriteLine(line.TrimEnd());
            }
        }

        if (GgmlNote(b) is { } note)
        {
            o.WriteLine(note);
        }

        o.WriteLine("ggml: its plain path (weights in place); repack: its CPU_REPACK path (llama.cpp's default placement). Ferrum/ggml, Ferrum/repack < 1: Ferrum is faster.");
        o.WriteLine($"% read BW: expert GB/s over the read bandwidth measured now ({b.ReadGbPerSecond:F1} GB/s); % int8 peak: expert multiply-adds/s over the int8 peak measured now ({b.Int8PeakGmacs:F0} G/s, {Int8Peak.Path}), {b.Threads} thread(s).");
        o.WriteLine("expert GB/s: expected expert bytes read per pass / Ferrum median. NMSE on the same layer and input: F·g Ferrum vs plain, F·r Ferrum vs repacked, r·g repacked vs plain. passes: Ferrum/plain/repacked.");
    }

    // Which weights ggml actually repacked, per layer, or why the repacked path does not run.
    private static string? RepackLine(BenchRunner b)
    {
        if (!b.GgmlRuns)
        {
            return null;
        }

        if (!b.RepackRuns)
        {
            return $"ggml repacked path: not run ({b.RepackUnavailable})";
        }

        var layers = b.RepackedWeights.Select(l => $"layer {l.Layer}: {(l.Weights.Count > 0 ? string.Join(", ", l.Weights) : "none")}");
        return $"ggml {GgmlRepack.BufferTypeName} (found via {b.RepackFoundVia}); repacked weights: {string.Join("; ", layers)}";
    }

    private static string F(double? v, string format) => v is { } d ? d.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static void WriteJson(string path, BenchRunner b, List<BenchRow> rows, TextWriter o)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", path);
            w.WriteString("architecture", b.Hyper.Architecture);
            w.WriteNumber("layers", b.LayerCount);
            w.WriteNumber("threads", b.Threads);
            w.WriteNumber("read_bw_gb_s", b.ReadGbPerSecond);
            w.WriteNumber("int8_peak_gmac_s", b.Int8PeakGmacs);
            w.WriteString("int8_peak_path", Int8Peak.Path);
            w.WriteBoolean("ggml", b.GgmlRuns);
            if (GgmlNote(b) is { } note)
            {
                w.WriteString("ggml_note", note);
            }
            else
            {
                w.WriteNull("ggml_note");
            }

            w.WriteBoolean("ggml_repack", b.RepackRuns);
            if (b.RepackRuns)
            {
                w.WriteString("ggml_repack_found_via", b.RepackFoundVia);
                w.WriteNull("ggml_repack_note");
            }
            else
            {
                w.WriteNull("ggml_repack_found_via");
                if (b.RepackUnavailable is { } why)
                {
                    w.WriteString("ggml_repack_note", why);
                }
                else
                {
                    w.WriteNull("ggml_repack_note");
                }
            }

            // Per MoE layer, which of router, gate, up, down ggml put into CPU_REPACK buffers.
            w.WriteStartArray("repacked_weights");
            foreach (var (layer, weights) in b.RepackedWeights)
            {
                w.WriteStartObject();
                w.WriteNumber("layer", layer);
                w.WriteStartArray("weights");
                foreach (var name in weights)
                {
                    w.WriteStringValue(name);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("rows");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                WriteRowFields(w, r);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }

    // The fields of one (tokens) row, shared by the single-model and the per-format JSON.
    private static void WriteRowFields(Utf8JsonWriter w, BenchRow r)
    {
        w.WriteNumber("tokens", r.Tokens);
        w.WriteNumber("ferrum_ms_median", r.FerrumMedian);
        w.WriteNumber("ferrum_ms_min", r.FerrumMin);
        Number(w, "ggml_ms_median", r.GgmlMedian);
        Number(w, "ggml_ms_min", r.GgmlMin);
        Number(w, "ggml_repack_ms_median", r.RepackMedian);
        Number(w, "ggml_repack_ms_min", r.RepackMin);
        Number(w, "ratio_ggml_plain", r.RatioPlain);
        Number(w, "ratio_ggml_repack", r.RatioRepack);
        w.WriteNumber("expert_gb_s", r.ExpertGbPerSecond);
        Number(w, "read_bw_percent", r.BandwidthPercent);
        Number(w, "int8_peak_percent", r.Int8PeakPercent);
        Number(w, "nmse", r.Nmse);
        Number(w, "nmse_repack", r.NmseRepack);
        Number(w, "nmse_plain_vs_repack", r.NmsePlainRepack);
        w.WriteNumber("ferrum_passes", r.FerrumPasses);
        w.WriteNumber("ggml_passes", r.GgmlPasses);
        w.WriteNumber("ggml_repack_passes", r.RepackPasses);
    }

    private static void Number(Utf8JsonWriter w, string name, double? v)
    {
        if (v is { } d)
        {
            w.WriteNumber(name, d);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
