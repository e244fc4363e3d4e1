using System.Text.Json;
using Ferrum.Backends.Cpu;
using Ferrum.Quantization;

namespace Ferrum.Cli.Tests;

/// <summary>
/// <c>ferrum tune</c>: one row per CPU weight format, pins from FERRUM_CPU_KERNELS measured never, decisions cached
/// under XDG_CACHE_HOME (a temporary directory here, never the user's cache), corrupt or stale files rewritten.
/// </summary>
public sealed class TuneCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-tune-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CacheFile => Path.Combine(_dir, "ferrum", CpuTuningFile.FileName);

    private FerrumProcess.Result Tune(string? pins, params string[] args) =>
        FerrumProcess.RunFrom(AppContext.BaseDirectory, new Dictionary<string, string?> { ["XDG_CACHE_HOME"] = _dir, [CpuTuning.PinVariable] = pins }, ["tune", .. args]);

    private static string[] Rows(FerrumProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("Format\tLevel\tKernel\tSource\tCandidates (µs: 1 token / 8 tokens, rows 2048+768)", lines[0]);
        var rows = lines.Skip(1).TakeWhile(l => l.Contains('\t', StringComparison.Ordinal)).ToArray();
        Assert.Equal(CpuKernels.Formats.Select(t => GgmlTypeInfo.Get(t).Name), rows.Select(l => l.Split('\t')[0]));
        return rows;
    }

    [Fact]
    public void Pinned_for_every_format_shows_the_pinned_kernels_and_measures_nothing()
    {
        var rows = Rows(Tune("scalar"));
        foreach (var row in rows)
        {
            var cells = row.Split('\t');
            Assert.Equal("scalar", cells[1]);
            Assert.Equal($"{cells[0]}·", cells[2][..(cells[0].Length + 1)]);
            Assert.EndsWith(" scalar generic", cells[2]);
            Assert.Equal("pinned", cells[3]);
        }

        Assert.False(File.Exists(CacheFile), "nothing is measured or cached when every format is pinned");
    }

    [Fact]
    public void First_run_measures_and_caches_then_the_cache_is_shown_and_refresh_measures_again()
    {
        var first = Tune("q4_K=avx2,q6_K=scalar", "--json");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.True(File.Exists(CacheFile));
        var cached = CpuTuningFile.Read(CacheFile, CpuIdentity.Current, out var why);
        Assert.True(cached != null, why);
        Assert.DoesNotContain(cached.Decisions, d => d.Format is GgmlType.Q4_K or GgmlType.Q6_K); // pinned: not measured
        Assert.Equal(CpuKernels.Formats.Count - 2, cached.Decisions.Count);

        using var doc = JsonDocument.Parse(first.Stdout);
        var formats = doc.RootElement.GetProperty("formats").EnumerateArray().ToList();
        Assert.Equal(CpuKernels.Formats.Select(t => GgmlTypeInfo.Get(t).Name), formats.Select(f => f.GetProperty("format").GetString()));
        Assert.Equal("q4_K=avx2,q6_K=scalar", doc.RootElement.GetProperty("pins").GetString());
        foreach (var f in formats)
        {
            var name = f.GetProperty("format").GetString();
            var source = f.GetProperty("source").GetString();
            if (name == "q6_K")
            {
                Assert.Equal(("pinned", "scalar"), (source, f.GetProperty("level").GetString()));
            }
            else if (name == "q4_K")
            {
                Assert.Equal(("pinned", CpuKernelPins.Name(CpuKernels.Generic(GgmlType.Q4_K, SimdLevel.Avx2 < CpuSimd.Supported ? SimdLevel.Avx2 : CpuSimd.Supported).Level)), (source, f.GetProperty("level").GetString()));
            }
            else
            {
                var d = cached.Decisions.Single(x => x.FormatName == name);
                Assert.Equal("measured", source);
                Assert.Equal(CpuKernelPins.Name(d.Level), f.GetProperty("level").GetString());
                Assert.Equal(d.Candidates.Count, f.GetProperty("candidates").GetArrayLength());
            }
        }

        // Second run: read from the cache, no progress lines.
        var second = Tune("q4_K=avx2,q6_K=scalar");
        var rows = Rows(second);
        Assert.DoesNotContain("[1/", second.Stderr, StringComparison.Ordinal);
        Assert.Contains($"cache: {CacheFile} (measured ", second.Stdout, StringComparison.Ordinal);
        Assert.Equal(CpuKernels.Formats.Count - 2, rows.Count(r => r.Split('\t')[3] == "measured"));

        // --refresh measures again, with progress on stderr, and rewrites the file.
        var refreshed = Tune("q4_K=avx2,q6_K=scalar", "--refresh");
        Rows(refreshed);
        Assert.Contains($"[{CpuKernels.Formats.Count - 2}/{CpuKernels.Formats.Count - 2}] ", refreshed.Stderr, StringComparison.Ordinal);
        var again = CpuTuningFile.Read(CacheFile, CpuIdentity.Current, out _);
        Assert.NotNull(again);
        Assert.True(again.MeasuredUtc > cached.MeasuredUtc);
    }

    [Theory]
    [InlineData("{ corrupt", "corrupt")]
    [InlineData("stale", "another CPU or version")]
    public void A_corrupt_or_stale_cache_is_ignored_and_rewritten(string content, string reason)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(CacheFile)!);
        if (content == "stale")
        {
            var old = new CpuTuningResult(CpuIdentity.Current with { Version = "0.0.1-old" }, DateTime.UtcNow, 1, [new(GgmlType.Q8_0, SimdLevel.Scalar, [])]);
            CpuTuningFile.Write(CacheFile, old);
        }
        else
        {
            File.WriteAllText(CacheFile, content);
        }

        // Everything but q8_0 pinned keeps the run short; q8_0 is measured again.
        var pins = string.Join(',', CpuKernels.Formats.Where(t => t != GgmlType.Q8_0).Select(t => $"{GgmlTypeInfo.Get(t).Name}=scalar"));
        var r = Tune(pins);
        Rows(r);
        Assert.Contains("not used (", r.Stderr, StringComparison.Ordinal);
        Assert.Contains(reason, r.Stderr, StringComparison.Ordinal);
        var rewritten = CpuTuningFile.Read(CacheFile, CpuIdentity.Current, out var why);
        Assert.True(rewritten != null, why);
        Assert.Equal(GgmlType.Q8_0, Assert.Single(rewritten.Decisions).Format);
    }

    [Fact]
    public void A_bad_pin_variable_fails_with_one_line_naming_it()
    {
        var r = Tune("q4_K=avx3");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"ferrum: error: {CpuTuning.PinVariable}: 'avx3' is not a SIMD level (scalar, vector128, avx2, avx512)", r.Stderr.Trim());
        Assert.False(File.Exists(CacheFile));
    }
}
