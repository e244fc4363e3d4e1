using BenchmarkDotNet.Attributes;
using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Benchmarks.Gguf;

/// <summary>
/// Opening and indexing GGUF files: a header-heavy file (1,000 tensors, 500 keys) and two files with the same
/// 16-tensor header but 2 MiB vs 2 GiB of tensor data (sparse), to show that opening does not grow with tensor bytes.
/// ggml's gguf_init_from_file (metadata only, no_alloc) runs on the same files for comparison.
/// Run: dotnet run -c Release --project benchmarks -- --filter *GgufOpen*
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class GgufOpenBenchmarks
{
    private string _many = "";
    private string _small = "";
    private string _big = "";

    [GlobalSetup]
    public void Setup()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ferrum-gguf-bench");
        Directory.CreateDirectory(dir);
        _many = Path.Combine(dir, "many-1000t-500k.gguf");
        _small = Path.Combine(dir, "experts-2MiB.gguf");
        _big = Path.Combine(dir, "experts-2GiB.gguf");
        WriteSparse(_many, ManyTensorsAndKeys());
        WriteSparse(_small, Experts(totalBytes: 2L << 20));
        WriteSparse(_big, Experts(totalBytes: 2L << 30));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        File.Delete(_many);
        File.Delete(_small);
        File.Delete(_big);
    }

    [Benchmark(Description = "Ferrum open+index 1000 tensors/500 keys")]
    public long FerrumMany() => OpenAndIndex(_many);

    [Benchmark(Description = "Ferrum open+index 16 tensors, 2 MiB data")]
    public long FerrumSmall() => OpenAndIndex(_small);

    [Benchmark(Description = "Ferrum open+index 16 tensors, 2 GiB data")]
    public long FerrumBig() => OpenAndIndex(_big);

    [Benchmark(Description = "ggml gguf_init_from_file 1000 tensors/500 keys")]
    public long GgmlMany() => GgmlOpen(_many);

    [Benchmark(Description = "ggml gguf_init_from_file 16 tensors, 2 GiB data")]
    public long GgmlBig() => GgmlOpen(_big);

    private static long OpenAndIndex(string path)
    {
        using var file = GgufFile.Open(path);
        long sum = file.Metadata.Count;
        foreach (var t in file.Tensors)
        {
            sum += file.GetTensor(t.Name).Offset;
        }

        return sum;
    }

    private static unsafe long GgmlOpen(string path)
    {
        var ctx = GgmlNative.GgufInitFromFile(path, new GgmlNative.GgufInitParams { NoAlloc = 1, Ctx = null });
        if (ctx == IntPtr.Zero)
        {
            throw new InvalidOperationException($"ggml refused {path}");
        }

        var n = GgmlNative.GgufGetNTensors(ctx) + GgmlNative.GgufGetNKv(ctx);
        GgmlNative.GgufFree(ctx);
        return n;
    }

    /// <summary>500 keys of mixed types (including a 1,000-token string array) and 1,000 tensor infos.</summary>
    internal static GgufWriter ManyTensorsAndKeys()
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", "qwen3moe");
        w.AddMetadata("tokenizer.ggml.tokens", Enumerable.Range(0, 1000).Select(i => $"token_{i}").ToArray());
        w.AddMetadata("tokenizer.ggml.scores", Enumerable.Range(0, 1000).Select(i => (float)i).ToArray());
        for (var i = 3; i < 500; i++)
        {
            var key = $"bench.key_{i}";
            _ = (i % 4) switch
            {
                0 => w.AddMetadata(key, (uint)i),
                1 => w.AddMetadata(key, i * 0.5f),
                2 => w.AddMetadata(key, $"value {i}"),
                _ => w.AddMetadata(key, new[] { i, i + 1, i + 2 }),
            };
        }

        for (var i = 0; i < 1000; i++)
        {
            w.AddTensorInfo($"blk.{i / 10}.t{i % 10}.weight", i % 2 == 0 ? GgmlType.Q4_K : GgmlType.F32, [256, 16]);
        }

        return w;
    }

    /// <summary>16 Q8_0 expert tensors [2048, rows, 8] sized so that all of them hold <paramref name="totalBytes"/>.</summary>
    internal static GgufWriter Experts(long totalBytes)
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", "qwen3moe");
        var perTensor = totalBytes / 16;
        var rowBytes = 2048 / 32 * 34L;
        var rows = perTensor / (rowBytes * 8);
        for (var i = 0; i < 16; i++)
        {
            w.AddTensorInfo($"blk.{i}.ffn_up_exps.weight", GgmlType.Q8_0, [2048, rows, 8]);
        }

        return w;
    }

    /// <summary>Writes the header, then extends the file over the data section without writing it (sparse).</summary>
    internal static void WriteSparse(string path, GgufWriter w)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write);
        var dataStart = w.WriteMetadataTo(fs);
        fs.SetLength(dataStart + w.DataSize);
    }
}
