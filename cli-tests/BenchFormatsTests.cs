using System.Text.Json;
using Ferrum.GgmlReference;

namespace Ferrum.Cli.Tests;

/// <summary>
/// <c>ferrum bench --formats</c>: one synthetic MoE file per weight format, written once into the cache folder
/// ($XDG_CACHE_HOME, a temp folder here) at a small hidden --shape, benchmarked against ggml's plain and repacked
/// paths; one JSON row per (format, token count) whose outputs agree with ggml's; bad lists are one-line errors.
/// </summary>
public sealed class BenchFormatsTests : IDisposable
{
    private const string Shape = "1,256,256,8,2";
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-bench-formats-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FerrumProcess.Result Run(params string[] args) =>
        FerrumProcess.RunFrom(AppContext.BaseDirectory, new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = _dir }, ["bench", .. args]);

    [Fact]
    public void Json_has_a_row_per_format_and_token_count_and_the_outputs_agree_with_ggml()
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml natives are required for this test");
        var r = Run("--formats", "q8_0,BF16,q8_0", "--shape", Shape, "--tokens", "1,3", "--threads", "2", "--json", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(["q8_0", "bf16"], root.GetProperty("formats").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(256, root.GetProperty("shape").GetProperty("hidden").GetInt32());
        Assert.Equal(8, root.GetProperty("shape").GetProperty("experts").GetInt32());
        var rows = root.GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal(["q8_0/1", "q8_0/3", "bf16/1", "bf16/3"], rows.Select(x => $"{x.GetProperty("format").GetString()}/{x.GetProperty("tokens").GetInt32()}"));
        foreach (var row in rows)
        {
            var format = row.GetProperty("format").GetString()!;
            Assert.True(row.GetProperty("ggml").GetBoolean(), row.ToString());
            Assert.True(row.GetProperty("ratio_ggml_plain").GetDouble() > 0);
            Assert.True(row.GetProperty("ferrum_ms_median").GetDouble() > 0);
            Assert.InRange(row.GetProperty("nmse").GetDouble(), 0, 5e-4);

            // Integer dots (q8_0) are put against the int8 peak; bf16 runs float FMAs, so it has no int8 figure.
            Assert.True(row.GetProperty("read_bw_percent").GetDouble() > 0);
            if (format == "bf16")
            {
                Assert.Equal(JsonValueKind.Null, row.GetProperty("int8_peak_percent").ValueKind);
            }
            else
            {
                Assert.True(row.GetProperty("int8_peak_percent").GetDouble() > 0);
            }

            // The repacked path runs when ggml has the CPU_REPACK buffer type; then its ratio and NMSE are filled.
            if (row.GetProperty("ggml_repack").GetBoolean())
            {
                Assert.True(row.GetProperty("ratio_ggml_repack").GetDouble() > 0);
                Assert.InRange(row.GetProperty("nmse_repack").GetDouble(), 0, 5e-4);
                Assert.InRange(row.GetProperty("nmse_plain_vs_repack").GetDouble(), 0, 5e-4);
            }

            var kernels = row.GetProperty("kernels").EnumerateArray().Select(k => k.GetString()!).ToArray();
            Assert.Contains(kernels, k => k.StartsWith($"gate: {format}·", StringComparison.Ordinal));
            Assert.Contains(kernels, k => k.StartsWith($"down: {format}·", StringComparison.Ordinal));
            Assert.StartsWith(Path.Combine(_dir, "ferrum", $"bench-{format}-"), row.GetProperty("model").GetString());
        }

        // The files are cached: a second run writes nothing.
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_dir, "ferrum"), "bench-*.gguf").Length);
        r = Run("--formats", "q8_0", "--shape", Shape, "--tokens", "2", "--threads", "1", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.DoesNotContain("writing", r.Stderr);
        Assert.Contains("| format | tokens |", r.Stdout);
        Assert.Matches(@"\| q8_0\s+\|\s+2 \|\s+\d+\.\d{3} \|\s+\d+\.\d{3} \|", r.Stdout);
        Assert.Contains("q8_0: kernels router: f32·f32", r.Stdout);
    }

    public static TheoryData<string[], string> BadInputs => new()
    {
        { ["--formats", "q9_0"], "--formats: 'q9_0' is not a weight format" },
        { ["--formats", "q8_0,,f16"], "--formats: '' is not a weight format" },
        { ["--formats", "q4_0,iq2_xxs"], "--formats: 'iq2_xxs' is not a weight format" },
        { ["--formats", "q8_0", "--model", "MODEL"], "give either --model or --formats" },
        { ["--formats", "q8_0", "--shape", "1,100,256,8,2"], "multiples of 256" },
        { ["--formats", "q8_0", "--shape", "1,256,256,8"], "expected 5 sizes" },
        { ["--formats", "q8_0", "--shape", "1,256,256,2,8"], "topk ≤ experts" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_gives_one_line_and_exit_1(string[] args, string message)
    {
        var model = Path.Combine(_dir, "m.gguf");
        File.WriteAllText(model, "not read");
        var r = Run([.. args.Select(a => a == "MODEL" ? model : a), "--tokens", "1", "--seconds", "0.05"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("ferrum: error: ", lines[0]);
        Assert.False(Directory.Exists(Path.Combine(_dir, "ferrum")), "no file is written for bad input");
    }
}
