using System.Globalization;
using System.Text.Json;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;
using Ferrum.Sample.Demo;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary><c>ferrum bench --formats</c>: the same comparison as for one model, over one synthetic file per format.</summary>
public static partial class BenchCommand
{
    /// <summary>
    /// What one format's run found: its file, Ferrum's kernels, whether each ggml path ran (and why not), which
    /// weights ggml repacked (first layer) and the rows per token count.
    /// </summary>
    private sealed record FormatResult(string Format, string Path, IReadOnlyList<string> Kernels, bool Ggml, string? GgmlNote,
        bool Repack, string? RepackNote, IReadOnlyList<string> Repacked, List<BenchRow> Rows);

    /// <summary>
    /// Writes (once) and benchmarks the synthetic file of each format in <paramref name="formats"/>, then writes one
    /// table (or JSON object) with a row per (format, token count) to <paramref name="o"/>.
    /// </summary>
    public static void RunFormats(IReadOnlyList<GgmlType> formats, DemoShape shape, int[] tokens, int threads, double seconds, bool json, TextWriter o)
    {
        var results = new List<FormatResult>();
        foreach (var type in formats)
        {
            var name = GgmlTypeInfo.Get(type).Name;
            var path = BenchFormats.EnsureBuilt(type, shape, Console.Error);
            BenchFormats.ReadThrough(path);
            using var bench = new BenchRunner(path, threads, seconds);
            var rows = MeasureAll(bench, tokens, json ? null : $"{name}, ");

            var repacked = bench.RepackedWeights.Count > 0 ? bench.RepackedWeights[0].Weights : [];
            results.Add(new FormatResult(name, path, bench.KernelPaths, bench.GgmlRuns, GgmlNote(bench),
                bench.RepackRuns, bench.GgmlRuns && !bench.RepackRuns ? bench.RepackUnavailable : null, repacked, rows));
        }

        if (json)
        {
            WriteFormatsJson(shape, threads, results, o);
        }
        else
        {
            WriteFormatsTable(shape, threads, results, o);
        }
    }

    private static void WriteFormatsTable(DemoShape shape, int threads, List<FormatResult> results, TextWriter o)
    {
        o.WriteLine($"synthetic qwen3moe files, one per format: {shape.Layers} MoE layer(s) rotated, hidden {shape.Hidden}, expert FFN {shape.ExpertFfn}, {shape.Experts} experts, top-{shape.TopK}; gate/up/down in the format, router f32");
        o.WriteLine($"threads {threads} (both sides), SIMD {CpuSimd.Level}, ggml {(GgmlLibrary.IsAvailable ? GgmlLibrary.Variant + " from " + GgmlLibrary.Folder : "-")}");
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(text) });
        console.Profile.Width = 240; // a redirected output would otherwise wrap the table at 80 columns
        var table = new Table().Border(TableBorder.Markdown);
        table.AddColumn(new TableColumn("format"));
        foreach (var c in new[] { "tokens", "Ferrum median ms", "ggml median ms", "repack median ms", "Ferrum/ggml", "Ferrum/repack", "expert GB/s", "% read BW", "% int8 peak", "NMSE F·g", "NMSE F·r", "NMSE r·g", "passes" })
        {
            table.AddColumn(new TableColumn(c).RightAligned());
        }

        table.AddColumn(new TableColumn("ggml repacked"));
        foreach (var f in results)
        {
            foreach (var r in f.Rows)
            {
                table.AddRow(
                    f.Format,
                    r.Tokens.ToString(CultureInfo.InvariantCulture),
                    F(r.FerrumMedian, "F3"),
                    F(r.GgmlMedian, "F3"),
                    F(r.RepackMedian, "F3"),
                    F(r.RatioPlain, "F2"),
                    F(r.RatioRepack, "F2"),
                    F(r.ExpertGbPerSecond, "F1"),
                    F(r.BandwidthPercent, "F0"),
                    F(r.Int8PeakPercent, "F0"),
                    F(r.Nmse, "E1"),
                    F(r.NmseRepack, "E1"),
                    F(r.NmsePlainRepack, "E1"),
                    string.Join("/", new[] { r.FerrumPasses, r.GgmlPasses, r.RepackPasses }.Where(p => p > 0)),
                    !f.Repack ? "-" : f.Repacked.Count > 0 ? string.Join(", ", f.Repacked) : "none");
            }
        }

        console.Write(table);
        foreach (var line in text.ToString().Split('\n'))
        {
            if (line.Trim().Length > 0)
            {
                o.WriteLine(line.TrimEnd());
            }
        }

        foreach (var f in results)
        {
            o.WriteLine($"{f.Format}: kernels {string.Join("; ", f.Kernels)}{(f.GgmlNote is { } n ? "; " + n : "")}{(f.RepackNote is { } rn ? "; ggml repacked path not run: " + rn : "")}");
        }

        o.WriteLine("% read BW / % int8 peak: expert GB/s and expert multiply-adds/s over the read bandwidth and int8 peak measured once at the start of the run.");
        o.WriteLine("ggml: its plain path (weights in place); repack: its CPU_REPACK path, run when its buffer type takes weights (ggml repacked: which of the first layer's). Ferrum/ggml, Ferrum/repack < 1: Ferrum is faster.");
        o.WriteLine("NMSE on the same layer and input: F·g Ferrum vs plain, F·r Ferrum vs repacked, r·g repacked vs plain. passes: Ferrum/plain/repacked.");
    }

    private static void WriteFormatsJson(DemoShape shape, int threads, List<FormatResult> results, TextWriter o)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("formats");
            foreach (var f in results)
            {
                w.WriteStringValue(f.Format);
            }

            w.WriteEndArray();
            w.WriteStartObject("shape");
            w.WriteNumber("layers", shape.Layers);
            w.WriteNumber("hidden", shape.Hidden);
            w.WriteNumber("expert_ffn", shape.ExpertFfn);
            w.WriteNumber("experts", shape.Experts);
            w.WriteNumber("top_k", shape.TopK);
            w.WriteEndObject();
            w.WriteNumber("threads", threads);
            w.WriteString("simd", CpuSimd.Level.ToString());

            // One row per (format, token count): the format's facts, then the single-model row's fields.
            w.WriteStartArray("rows");
            foreach (var f in results)
            {
                foreach (var r in f.Rows)
                {
                    w.WriteStartObject();
                    w.WriteString("format", f.Format);
                    w.WriteString("model", f.Path);
                    w.WriteBoolean("ggml", f.Ggml);
                    NullableString(w, "ggml_note", f.GgmlNote);
                    w.WriteBoolean("ggml_repack", f.Repack);
                    NullableString(w, "ggml_repack_note", f.RepackNote);
                    w.WriteStartArray("repacked_weights");
                    foreach (var name in f.Repacked)
                    {
                        w.WriteStringValue(name);
                    }

                    w.WriteEndArray();
                    w.WriteStartArray("kernels");
                    foreach (var k in f.Kernels)
                    {
                        w.WriteStringValue(k);
                    }

                    w.WriteEndArray();
                    WriteRowFields(w, r);
                    w.WriteEndObject();
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }

    private static void NullableString(Utf8JsonWriter w, string name, string? v)
    {
        if (v != null)
        {
            w.WriteString(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
