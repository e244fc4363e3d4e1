using System.Runtime.InteropServices;
using System.Text.Json;
using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Cli.Tests;

/// <summary>
/// <c>ferrum bench</c> on a small two-layer qwen3moe file (q4_K gate/up; q4_K and q6_K down): Ferrum, ggml's plain
/// path and ggml's repacked (CPU_REPACK) path run side by side and agree; bad input gives one line and exit 1.
/// </summary>
public sealed class BenchCommandTests : IDisposable
{
    private const int H = 256, F = 256, E = 8, K = 2, Layers = 2;
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-bench-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static float[] Random(int n, int seed, double scale)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    private static byte[] Bytes(float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    private static byte[] Quantize(GgmlType type, float[] values)
    {
        var dst = new byte[Quantizer.ByteCount(type, values.Length)];
        Quantizer.Quantize(type, values, dst);
        return dst;
    }

    private string WriteMoe(string arch = "qwen3moe", bool sharedExpert = false, GgmlType? all = null)
    {
        var w = new GgufWriter()
            .AddMetadata("general.architecture", arch)
            .AddMetadata($"{arch}.block_count", (uint)Layers)
            .AddMetadata($"{arch}.embedding_length", (uint)H)
            .AddMetadata($"{arch}.expert_feed_forward_length", (uint)F)
            .AddMetadata($"{arch}.expert_count", (uint)E)
            .AddMetadata($"{arch}.expert_used_count", (uint)K);
        for (int l = 0; l < Layers; l++)
        {
            var down = all ?? (l == 0 ? GgmlType.Q4_K : GgmlType.Q6_K);
            var gateUp = all ?? GgmlType.Q4_K;
            w.AddTensor($"blk.{l}.ffn_gate_inp.weight", GgmlType.F32, [H, E], Bytes(Random(H * E, 10 * l + 1, 0.1)))
             .AddTensor($"blk.{l}.ffn_gate_exps.weight", gateUp, [H, F, E], Quantize(gateUp, Random(H * F * E, 10 * l + 2, 0.1)))
             .AddTensor($"blk.{l}.ffn_up_exps.weight", gateUp, [H, F, E], Quantize(gateUp, Random(H * F * E, 10 * l + 3, 0.1)))
             .AddTensor($"blk.{l}.ffn_down_exps.weight", down, [F, H, E], Quantize(down, Random(F * H * E, 10 * l + 4, 0.1)));
            if (sharedExpert)
            {
                w.AddTensor($"blk.{l}.ffn_gate_shexp.weight", GgmlType.F32, [H, F], Bytes(Random(H * F, 10 * l + 5, 0.1)))
                 .AddTensor($"blk.{l}.ffn_up_shexp.weight", GgmlType.F32, [H, F], Bytes(Random(H * F, 10 * l + 6, 0.1)))
                 .AddTensor($"blk.{l}.ffn_down_shexp.weight", GgmlType.F32, [F, H], Bytes(Random(F * H, 10 * l + 7, 0.1)));
            }
        }

        var path = Path.Combine(_dir, $"{arch}{(sharedExpert ? "-shared" : "")}{(all is { } t ? "-" + t : "")}.gguf");
        w.WriteTo(path);
        return path;
    }

    [Theory]
    [InlineData("qwen3moe")] // renormalized top-K weights
    [InlineData("olmoe")]    // raw softmax weights
    public void Json_has_both_sides_and_they_agree(string arch)
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml natives are required for this test");
        var path = WriteMoe(arch);
        var r = FerrumProcess.Run("bench", "--model", path, "--tokens", "1,4", "--threads", "2", "--json", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(path, root.GetProperty("model").GetString());
        Assert.Equal(2, root.GetProperty("threads").GetInt32());
        Assert.True(root.GetProperty("ggml").GetBoolean(), r.Stdout);
        var rows = root.GetProperty("rows").EnumerateArray().ToArray();
        Assert.Equal([1, 4], rows.Select(x => x.GetProperty("tokens").GetInt32()));
        foreach (var row in rows)
        {
            Assert.InRange(row.GetProperty("nmse").GetDouble(), 0, 5e-4);
            Assert.True(row.GetProperty("ratio_ggml_plain").GetDouble() > 0);
            Assert.True(row.GetProperty("ratio_ggml_repack").GetDouble() > 0);
            Assert.InRange(row.GetProperty("nmse_repack").GetDouble(), 0, 5e-4);
            Assert.InRange(row.GetProperty("nmse_plain_vs_repack").GetDouble(), 0, 5e-4);
            Assert.True(row.GetProperty("ferrum_ms_median").GetDouble() > 0);
            Assert.True(row.GetProperty("ggml_ms_min").GetDouble() > 0);
            Assert.True(row.GetProperty("expert_gb_s").GetDouble() > 0);
            Assert.True(row.GetProperty("read_bw_percent").GetDouble() > 0);
            Assert.True(row.GetProperty("ferrum_passes").GetInt32() >= 3);
        }

        // The yardsticks are measured in the same run; the int8 peak applies to these quantized experts.
        Assert.True(root.GetProperty("read_bw_gb_s").GetDouble() > 0);
        Assert.True(root.GetProperty("int8_peak_gmac_s").GetDouble() > 0);
        Assert.All(rows, row => Assert.True(row.GetProperty("int8_peak_percent").GetDouble() > 0));
    }

    // Expected placements from llama.cpp's ggml-cpu/repack.cpp (ggml_repack_get_optimal_repack_type): on x86 with
    // AVX2, q4_K stacks whose row count is a multiple of 8 get the 8x8 interleaved layout; q6_K has none there (only
    // ARM NEON layouts); the f32 router never has one. The mixed file's layer 0 has a q4_K down, layer 1 a q6_K one.
    public static TheoryData<string, string[], string[]> RepackCases => new()
    {
        { "Q4_K", ["gate", "up", "down"], ["gate", "up", "down"] },
        { "Q6_K", [], [] },
        { "mixed", ["gate", "up", "down"], ["gate", "up"] },
    };

    [Theory]
    [MemberData(nameof(RepackCases))]
    public void Plain_and_repacked_ggml_paths_run_in_one_run_and_all_three_agree(string formats, string[] layer0, string[] layer1)
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml natives are required for this test");
        Assert.True(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "the expected CPU_REPACK placements are those of an x86 CPU with AVX2");
        GgmlType? all = formats == "mixed" ? null : Enum.Parse<GgmlType>(formats);
        var path = WriteMoe(all: all);
        var r = FerrumProcess.Run("bench", "--model", path, "--tokens", "1,5", "--threads", "2", "--json", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("ggml").GetBoolean(), r.Stdout);
        Assert.True(root.GetProperty("ggml_repack").GetBoolean(), r.Stdout);
        Assert.Contains(root.GetProperty("ggml_repack_found_via").GetString(), new[] { "ggml_backend_dev_get_extra_bufts", "_Z35ggml_backend_cpu_repack_buffer_typev" });
        var placed = root.GetProperty("repacked_weights").EnumerateArray().ToArray();
        Assert.Equal([0, 1], placed.Select(p => p.GetProperty("layer").GetInt32()));
        Assert.Equal(layer0, placed[0].GetProperty("weights").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(layer1, placed[1].GetProperty("weights").EnumerateArray().Select(x => x.GetString()));
        foreach (var row in root.GetProperty("rows").EnumerateArray())
        {
            // One ratio per ggml path; the repacked one is named so.
            var ratios = row.EnumerateObject().Where(p => p.Name.Contains("ratio")).ToArray();
            Assert.Equal(2, ratios.Length);
            Assert.Single(ratios, p => p.Name.Contains("repack"));
            Assert.All(ratios, p => Assert.True(p.Value.GetDouble() > 0, p.Name));
            Assert.True(row.GetProperty("ggml_repack_ms_median").GetDouble() > 0);
            Assert.True(row.GetProperty("ggml_repack_passes").GetInt32() >= 3);

            // Same layer, same input: Ferrum vs plain, Ferrum vs repacked, repacked vs plain.
            Assert.InRange(row.GetProperty("nmse").GetDouble(), 0, 5e-4);
            Assert.InRange(row.GetProperty("nmse_repack").GetDouble(), 0, 5e-4);
            Assert.InRange(row.GetProperty("nmse_plain_vs_repack").GetDouble(), 0, 5e-4);
        }
    }

    [Fact]
    public void Refuses_the_ggml_comparison_for_a_block_it_does_not_build()
    {
        var path = WriteMoe("qwen2moe", sharedExpert: true);
        var r = FerrumProcess.Run("bench", "--model", path, "--tokens", "2", "--threads", "1", "--json", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.False(root.GetProperty("ggml").GetBoolean());
        Assert.Contains("shared experts", root.GetProperty("ggml_note").GetString());
        var row = Assert.Single(root.GetProperty("rows").EnumerateArray().ToArray());
        Assert.True(row.GetProperty("ferrum_ms_median").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, row.GetProperty("ggml_ms_median").ValueKind);
        Assert.Equal(JsonValueKind.Null, row.GetProperty("nmse").ValueKind);
        Assert.Equal(JsonValueKind.Null, row.GetProperty("ratio_ggml_plain").ValueKind);
        Assert.Equal(JsonValueKind.Null, row.GetProperty("ratio_ggml_repack").ValueKind);
        Assert.False(root.GetProperty("ggml_repack").GetBoolean());
    }

    [Fact]
    public void Without_ggml_natives_reports_Ferrum_only_and_FERRUM_GGML_DIR_finds_them()
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml natives are required for this test");
        var path = WriteMoe();

        // The tool without the natives next to it (as it ships), and no NuGet packages folder to fall back on.
        var tool = Directory.CreateDirectory(Path.Combine(_dir, "tool")).FullName;
        foreach (var f in Directory.GetFiles(AppContext.BaseDirectory))
        {
            File.Copy(f, Path.Combine(tool, Path.GetFileName(f)));
        }

        var none = new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(_dir, "no-packages"), [GgmlLibrary.DirectoryVariable] = null };
        var r = FerrumProcess.RunFrom(tool, none, "bench", "--model", path, "--tokens", "2", "--threads", "1", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("ggml natives not found (set FERRUM_GGML_DIR", r.Stdout);
        Assert.Matches(@"\|\s+2 \|\s+\d+\.\d{3} \|\s+\d+\.\d{3} \|\s+- \|", r.Stdout);

        var withDir = new Dictionary<string, string?>(none) { [GgmlLibrary.DirectoryVariable] = GgmlLibrary.Folder };
        r = FerrumProcess.RunFrom(tool, withDir, "bench", "--model", path, "--tokens", "2", "--threads", "1", "--json", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.True(doc.RootElement.GetProperty("ggml").GetBoolean(), r.Stdout);
        Assert.InRange(doc.RootElement.GetProperty("rows")[0].GetProperty("nmse").GetDouble(), 0, 5e-4);
    }

    [Fact]
    public void Table_lists_each_token_count()
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml natives are required for this test");
        Assert.True(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "the expected CPU_REPACK placements are those of an x86 CPU with AVX2");
        var path = WriteMoe();
        var r = FerrumProcess.Run("bench", "--model", path, "--tokens", "3", "--threads", "1", "--seconds", "0.05");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("qwen3moe, 2 MoE layer(s) rotated", r.Stdout);
        Assert.Contains("| Ferrum median ms |", r.Stdout);
        Assert.Contains("| Ferrum/ggml | Ferrum/repack |", r.Stdout);
        Assert.Contains("repacked weights: layer 0: gate, up, down; layer 1: gate, up", r.Stdout);
        Assert.Matches(@"\|\s+3 \|\s+\d+\.\d{3} \|", r.Stdout);
    }

    public static TheoryData<string[], string> BadInputs => new()
    {
        { ["--model", "/nonexistent/m.gguf"], "not found" },
        { ["--model", "NOT_MOE"], "not a Mixture-of-Experts model" },
        { ["--model", "NOT_GGUF"], "GGUF" },
        { ["--tokens", "0"], "--tokens: '0'" },
        { ["--tokens", "1,x"], "--tokens: 'x'" },
        { ["--threads", "0"], "--threads 0 must be in 1..1024" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_gives_one_line_and_exit_1(string[] args, string message)
    {
        var notMoe = Path.Combine(_dir, "dense.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "llama")
            .AddMetadata("llama.block_count", 1u)
            .AddMetadata("llama.embedding_length", 64u)
            .AddTensor("blk.0.ffn_gate.weight", GgmlType.F32, [64, 32], Bytes(Random(64 * 32, 1, 1)))
            .WriteTo(notMoe);
        var notGguf = Path.Combine(_dir, "text.gguf");
        File.WriteAllText(notGguf, "this is not a GGUF file at all, just text");
        var a = args.Select(x => x == "NOT_MOE" ? notMoe : x == "NOT_GGUF" ? notGguf : x).ToList();
        if (!a.Contains("--model"))
        {
            a.AddRange(["--model", WriteMoe()]);
        }

        var r = FerrumProcess.Run(["bench", .. a]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("ferrum: error: ", lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}
