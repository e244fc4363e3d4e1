using Ferrum.Backends.Cpu;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Cpu;

/// <summary>
/// Kernel choice by measurement, without depending on timing: the cache file's round trip and keying, corrupt
/// files, pins (environment and option) choosing exactly the pinned kernel, and that each kernel a real tuning run
/// chooses still equals ggml's vec_dot. Every cache path is a temporary directory, never the user's cache.
/// </summary>
public sealed class CpuTuningTests : IDisposable
{
    private static readonly CpuIdentity Id = new("Test CPU 9000", "avx2,fma,vector128", "1.2.3+abc");

    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-tune-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CacheFile => Path.Combine(_dir, "ferrum", CpuTuningFile.FileName);

    private static CpuTuningResult Sample(CpuIdentity id) => new(
        id,
        new DateTime(2026, 12, 3, 14, 0, 0, DateTimeKind.Utc),
        4 << 20,
        [
            new(GgmlType.Q4_K, SimdLevel.Scalar, [new(SimdLevel.Scalar, 10.5, 80.25), new(SimdLevel.Avx2, 12, null)]),
            new(GgmlType.F16, SimdLevel.Vector128, []),
        ]);

    private Func<string, string?> Env(string? pins = null) => name => name switch
    {
        "XDG_CACHE_HOME" => _dir,
        CpuTuning.PinVariable => pins,
        _ => null,
    };

    [Fact]
    public void Cache_file_round_trips_every_field()
    {
        var written = Sample(Id);
        CpuTuningFile.Write(CacheFile, written);
        var read = CpuTuningFile.Read(CacheFile, Id, out var why);
        Assert.Null(why);
        Assert.NotNull(read);
        Assert.Equal(Id, read.Identity);
        Assert.Equal(written.MeasuredUtc, read.MeasuredUtc);
        Assert.Equal(written.WeightBytes, read.WeightBytes);
        Assert.Equal(2, read.Decisions.Count);
        Assert.Equal(GgmlType.Q4_K, read.Decisions[0].Format);
        Assert.Equal(SimdLevel.Scalar, read.Decisions[0].Level);
        Assert.Equal([new(SimdLevel.Scalar, 10.5, 80.25), new CpuKernelTiming(SimdLevel.Avx2, 12, null)], read.Decisions[0].Candidates);
        Assert.Equal(SimdLevel.Vector128, read.Decisions[1].Level);
        Assert.Empty(read.Decisions[1].Candidates);
    }

    [Theory]
    [InlineData("Other CPU", "avx2,fma,vector128", "1.2.3+abc")]
    [InlineData("Test CPU 9000", "avx512f,avx512bw,avx2,fma,vector128", "1.2.3+abc")]
    [InlineData("Test CPU 9000", "avx2,fma,vector128", "1.2.4+def")]
    public void A_file_made_for_another_cpu_isa_or_version_is_ignored(string cpu, string isa, string version)
    {
        CpuTuningFile.Write(CacheFile, Sample(new CpuIdentity(cpu, isa, version)));
        Assert.Null(CpuTuningFile.Read(CacheFile, Id, out var why));
        Assert.Contains("another CPU or version", why);

        var state = CpuTuningState.Load(Env(), Id);
        Assert.Null(state.Result);
        Assert.Equal(CpuSimd.Supported, state.LevelFor(GgmlType.Q4_K)); // the ISA rule
        Assert.Equal("isa rule", state.SourceOf(GgmlType.Q4_K));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{ not json")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{\"schema\": 1}")]
    [InlineData("{\"schema\": \"one\", \"cpu\": 5}")]
    [InlineData("{\"schema\": 2, \"cpu\": \"x\"}")]
    [InlineData("{\"schema\":1,\"cpu\":\"Test CPU 9000\",\"isa\":\"avx2,fma,vector128\",\"ferrum\":\"1.2.3+abc\",\"measured_utc\":\"2026-12-03T14:00:00Z\",\"weight_bytes\":1,\"decisions\":[{\"format\":\"q9_Z\",\"level\":\"avx2\",\"candidates\":[]}]}")]
    [InlineData("{\"schema\":1,\"cpu\":\"Test CPU 9000\",\"isa\":\"avx2,fma,vector128\",\"ferrum\":\"1.2.3+abc\",\"measured_utc\":\"2026-12-03T14:00:00Z\",\"weight_bytes\":1,\"decisions\":[{\"format\":\"q4_K\",\"level\":\"avx9000\",\"candidates\":[]}]}")]
    [InlineData("{\"schema\":1,\"cpu\":\"Test CPU 9000\",\"isa\":\"avx2,fma,vector128\",\"ferrum\":\"1.2.3+abc\",\"measured_utc\":\"2026-12-03T14:00:00Z\",\"weight_bytes\":1,\"decisions\":[{\"format\":\"q4_0\",\"level\":\"vector128\",\"candidates\":[]}]}")] // a level the format has no kernel at
    [InlineData("{\"schema\":1,\"cpu\":\"Test CPU 9000\",\"isa\":\"avx2,fma,vector128\",\"ferrum\":\"1.2.3+abc\",\"measured_utc\":\"2026-12-03T14:00:00Z\",\"weight_bytes\":1,\"decisions\":[{\"format\":\"q4_K\",\"level\":\"scalar\",\"candidates\":[]},{\"format\":\"q4_K\",\"level\":\"scalar\",\"candidates\":[]}]}")]
    [InlineData("{\"schema\":1,\"cpu\":\"Test CPU 9000\",\"isa\":\"avx2,fma,vector128\",\"ferrum\":\"1.2.3+abc\",\"measured_utc\":\"yesterday\",\"weight_bytes\":1,\"decisions\":[]}")]
    [InlineData("{\"schema\":1,\"cpu\":\"Test CPU 9000\",\"isa\":\"avx2,fma,vector128\",\"ferrum\":\"1.2.3+abc\",\"measured_utc\":\"2026-12-03T14:00:00Z\",\"weight_bytes\":1,\"decisions\":[{\"format\":\"q4_K\",\"level\":\"scalar\",\"candidates\":[{\"level\":\"scalar\",\"us_1_token\":\"fast\"}]}]}")]
    public void A_corrupt_file_is_ignored_with_a_reason_never_thrown(string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(CacheFile)!);
        File.WriteAllText(CacheFile, text);
        Assert.Null(CpuTuningFile.Read(CacheFile, Id, out var why));
        Assert.False(string.IsNullOrEmpty(why));
        Assert.Null(CpuTuningState.Load(Env(), Id).Result);
    }

    [Fact]
    public void Binary_garbage_and_a_missing_file_are_ignored()
    {
        Assert.Null(CpuTuningFile.Read(CacheFile, Id, out var missing));
        Assert.Equal("no cache file", missing);
        Directory.CreateDirectory(Path.GetDirectoryName(CacheFile)!);
        File.WriteAllBytes(CacheFile, [0xFF, 0xFE, 0x00, 0x7B, 0x80, 0x81]);
        Assert.Null(CpuTuningFile.Read(CacheFile, Id, out var why));
        Assert.StartsWith("corrupt", why);
    }

    [Fact]
    public void State_reads_the_cache_under_XDG_CACHE_HOME_and_uses_its_decisions()
    {
        CpuTuningFile.Write(CacheFile, Sample(Id));
        var state = CpuTuningState.Load(Env(), Id);
        Assert.Equal(CacheFile, state.CachePath);
        Assert.NotNull(state.Result);
        Assert.Equal(SimdLevel.Scalar, state.LevelFor(GgmlType.Q4_K));
        Assert.Equal("measured", state.SourceOf(GgmlType.Q4_K));
        Assert.Equal(CpuSimd.Supported, state.LevelFor(GgmlType.Q6_K)); // no decision: the ISA rule
        Assert.Equal("isa rule", state.SourceOf(GgmlType.Q6_K));
    }

    [Fact]
    public void Cache_directory_follows_XDG_then_HOME()
    {
        Assert.Equal(Path.Combine("/x/cache", "ferrum"), CpuTuning.CacheDirectory(n => n == "XDG_CACHE_HOME" ? "/x/cache" : null));
        if (!OperatingSystem.IsWindows())
        {
            // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
            Assert.Equal(Path.Combine("/home/u", ".cache", "ferrum"), CpuTuning.CacheDirectory(n => n switch { "XDG_CACHE_HOME" => "rel", "HOME" => "/home/u", _ => null }));
        }
    }

    [Fact]
    public void Environment_pins_win_over_the_cache_per_format_or_for_every_format()
    {
        CpuTuningFile.Write(CacheFile, Sample(Id));
        var perFormat = CpuTuningState.Load(Env("q4_K=avx2, Q6_k=scalar"), Id);
        Assert.Equal(SimdLevel.Avx2, perFormat.LevelFor(GgmlType.Q4_K));
        Assert.Equal("pinned", perFormat.SourceOf(GgmlType.Q4_K));
        Assert.Equal(SimdLevel.Scalar, perFormat.LevelFor(GgmlType.Q6_K));
        Assert.Equal(SimdLevel.Vector128, perFormat.LevelFor(GgmlType.F16)); // not pinned: cached decision
        Assert.Equal("q4_K=avx2,q6_K=scalar", perFormat.Pins.Text);

        var every = CpuTuningState.Load(Env("SCALAR"), Id);
        foreach (var t in CpuKernels.Formats)
        {
            Assert.Equal(SimdLevel.Scalar, every.LevelFor(t));
        }

        // An option's pin is ahead of the environment's.
        Assert.Equal(SimdLevel.Avx2, every.LevelFor(GgmlType.Q8_0, CpuKernelPins.Parse("q8_0=avx2")));
    }

    [Theory]
    [InlineData("avx3", "'avx3' is not a SIMD level")]
    [InlineData("q4_K=avx2,avx2", "'avx2' is not format=level")]
    [InlineData("q9_Z=avx2", "'q9_Z' is not a weight format")]
    [InlineData("q4_K=avx2,q4_k=scalar", "q4_K is pinned twice")]
    [InlineData("q4_K=", "'' is not a SIMD level")]
    public void Bad_pins_are_refused_naming_the_variable_and_entry(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => CpuTuningState.Load(Env(text), Id));
        Assert.StartsWith(CpuTuning.PinVariable + ":", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_pin_chooses_exactly_the_pinned_kernel_of_every_format()
    {
        foreach (var t in CpuKernels.Formats)
        {
            var row = CpuFormatTable.Get(t);
            foreach (var level in row.Levels.Where(l => l <= CpuSimd.Level))
            {
                var pins = CpuKernelPins.Parse($"{GgmlTypeInfo.Get(t).Name}={CpuKernelPins.Name(level)}");
                Assert.Same(row.At(level), CpuKernels.Get(t, pins));

                // Through the executor's choice, a pin also replaces a kernel bound by a generated model type.
                var bound = row.Best(CpuSimd.Level);
                Assert.Same(row.At(level), CpuKernelSet.Default.Pick(bound, t, 2048, pins));
            }

            Assert.Same(row.At(SimdLevel.Scalar), CpuKernels.Get(t, CpuKernelPins.Every(SimdLevel.Scalar)));
        }

        Assert.Null(new CpuMoeOptions().KernelPins);
        var options = new CpuMoeOptions { KernelPins = CpuKernelPins.Parse("q4_K=scalar") };
        Assert.Equal(SimdLevel.Scalar, options.KernelPins!.For(GgmlType.Q4_K));
        Assert.Null(options.KernelPins.For(GgmlType.Q6_K));
    }

    [Fact]
    public void Every_kernel_a_tuning_run_chooses_matches_ggml_vec_dot()
    {
        // Which kernel wins depends on the CPU; that each winner is a real candidate and computes ggml's dot does not.
        var result = CpuKernelTuner.Measure();
        Assert.Equal(CpuKernels.Formats, result.Decisions.Select(d => d.Format));
        Assert.Equal(CpuIdentity.Current, result.Identity);
        foreach (var d in result.Decisions)
        {
            var row = CpuFormatTable.Get(d.Format);
            var chosen = row.At(d.Level);
            Assert.NotNull(chosen);
            Assert.True(d.Level <= CpuSimd.Supported, $"{d.FormatName}: {d.Level} is above the machine");
            if (d.Candidates.Count > 0)
            {
                Assert.Contains(d.Candidates, c => c.Level == d.Level && c.Microseconds8 is > 0);
                Assert.All(d.Candidates, c => Assert.True(c.Microseconds1 > 0));
            }

            KernelVsGgmlTests.AssertMatchesGgml(chosen);
        }

        // A file holding these decisions gives them back, and a state built on it chooses them.
        CpuTuningFile.Write(CacheFile, result);
        var state = CpuTuningState.Load(Env(), CpuIdentity.Current);
        Assert.NotNull(state.Result);
        foreach (var d in result.Decisions)
        {
            Assert.Equal(d.Level, state.LevelFor(d.Format));
        }
    }
}
