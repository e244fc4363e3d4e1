using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Ferrum.Backends.Cpu;
using Ferrum.Quantization;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary>
/// <c>ferrum tune [--refresh] [--json]</c>: the CPU kernel chosen for each weight format on this machine, where the
/// choice comes from (pinned by FERRUM_CPU_KERNELS, measured, or the instruction-set rule) and each candidate's
/// timing. Measures when there is no valid cached decision or with --refresh; pinned formats are never measured.
/// </summary>
public static class TuneCommand
{
    private static readonly Option<bool> RefreshOption = new("--refresh") { Description = "Measure the candidate kernels again and rewrite the cache." };
    private static readonly Option<bool> JsonOption = new("--json") { Description = "Print one JSON object instead of the table." };

    public static Command Create()
    {
        var cmd = new Command("tune", $"Show (and measure, the first time or with --refresh) the CPU kernel chosen for each weight format; {CpuTuning.PinVariable} pins them.");
        cmd.Options.Add(RefreshOption);
        cmd.Options.Add(JsonOption);
        cmd.SetAction(Run);
        return cmd;
    }

    public static int Run(ParseResult parse) => CliErrors.Guard(parse, () =>
    {
        bool json = parse.GetValue(JsonOption);
        var state = CpuTuning.Current;
        bool anyUnpinned = CpuKernels.Formats.Any(t => state.Pins.For(t) is null);
        string? measured = null;
        if (anyUnpinned && (parse.GetValue(RefreshOption) || state.Result is null))
        {
            if (state.Result is null && state.Ignored is { } why && !json)
            {
                Console.Error.WriteLine($"ferrum tune: cache {state.CachePath} not used ({why}); measuring");
            }

            var sw = System.Diagnostics.Stopwatch.StartNew();
            CpuTuning.Refresh((i, n, d) => Console.Error.WriteLine($"[{i}/{n}] {d.FormatName}: {CpuKernelPins.Name(d.Level)}"));
            measured = $"measured in {sw.Elapsed.TotalSeconds:F2} s";
            state = CpuTuning.Current;
        }

        if (json)
        {
            WriteJson(state, Console.Out);
            return 0;
        }

        string[] header = ["Format", "Level", "Kernel", "Source", "Candidates (µs: 1 token / 8 tokens, rows 2048+768)"];
        var rows = CpuKernels.Formats.Select(t => new[]
        {
            GgmlTypeInfo.Get(t).Name, CpuKernelPins.Name(CpuKernels.Get(t).Level), CpuKernels.Get(t).Path, state.SourceOf(t), Candidates(state, t),
        }).ToList();
        if (Console.IsOutputRedirected)
        {
            Console.WriteLine(string.Join('\t', header));
            rows.ForEach(r => Console.WriteLine(string.Join('\t', r)));
        }
        else
        {
            var table = new Table().AddColumns(header);
            rows.ForEach(r => table.AddRow(r.Select(Markup.Escape).ToArray()));
            AnsiConsole.Write(table);
        }

        Console.WriteLine($"cpu: {CpuIdentity.Current}");
        Console.WriteLine($"cache: {state.CachePath} ({measured ?? (state.Result is { } r ? $"measured {r.MeasuredUtc:u}" : state.Ignored ?? "not used")})");
        if (!state.Pins.IsEmpty)
        {
            Console.WriteLine($"pinned by {CpuTuning.PinVariable}: {state.Pins}");
        }

        return 0;
    });

    private static string Candidates(CpuTuningState state, GgmlType t)
    {
        if (state.SourceOf(t) != "measured" || state.Result?.For(t) is not { } d)
        {
            return "-";
        }

        if (d.Candidates.Count == 0)
        {
            return "one kernel (not timed)";
        }

        return string.Join("; ", d.Candidates.Select(c =>
            $"{CpuKernelPins.Name(c.Level)} {F(c.Microseconds1)} / {(c.Microseconds8 is { } v ? F(v) : "dropped")}"));
    }

    private static string F(double v) => v.ToString("F0", CultureInfo.InvariantCulture);

    private static void WriteJson(CpuTuningState state, TextWriter o)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("cpu", CpuIdentity.Current.Cpu);
            w.WriteString("isa", CpuIdentity.Current.Isa);
            w.WriteString("ferrum", CpuIdentity.Current.Version);
            w.WriteString("cache", state.CachePath);
            w.WriteString("pins", state.Pins.Text);
            w.WriteStartArray("formats");
            foreach (var t in CpuKernels.Formats)
            {
                var k = CpuKernels.Get(t);
                w.WriteStartObject();
                w.WriteString("format", GgmlTypeInfo.Get(t).Name);
                w.WriteString("level", CpuKernelPins.Name(k.Level));
                w.WriteString("kernel", k.Path);
                w.WriteString("source", state.SourceOf(t));
                w.WriteStartArray("candidates");
                if (state.SourceOf(t) == "measured" && state.Result?.For(t) is { } d)
                {
                    foreach (var c in d.Candidates)
                    {
                        CpuTuningFile.WriteTiming(w, c);
                    }
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
