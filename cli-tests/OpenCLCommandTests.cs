using System.Runtime.InteropServices;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Cli.Tests;

/// <summary><c>ferrum opencl</c>: lists devices, and runs a GGUF MoE layer on one (compared with the exact float math).</summary>
public sealed class OpenCLCommandTests : IDisposable
{
    private const int H = 256, F = 256, E = 8, K = 2, Tokens = 3;
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-ocl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Lists_the_devices()
    {
        var r = FerrumProcess.Run("opencl");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("Device", r.Stdout);
    }

    [Fact]
    public void Runs_a_qwen3moe_layer_and_matches_the_float_reference()
    {
        var rng = new Random(7);
        float[] Rand(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
        var router = Rand(E * H, 0.5f);
        var (gate, gateF) = Quant(GgmlType.Q8_0, Rand(E * F * H, 1));
        var (up, upF) = Quant(GgmlType.Q8_0, Rand(E * F * H, 1));
        var (down, downF) = Quant(GgmlType.Q4_K, Rand(E * H * F, 1));
        var model = Path.Combine(_dir, "m.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "qwen3moe")
            .AddMetadata("qwen3moe.block_count", 1u)
            .AddMetadata("qwen3moe.embedding_length", (uint)H)
            .AddMetadata("qwen3moe.expert_feed_forward_length", (uint)F)
            .AddMetadata("qwen3moe.expert_count", (uint)E)
            .AddMetadata("qwen3moe.expert_used_count", (uint)K)
            .AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [H, E], MemoryMarshal.AsBytes(router.AsSpan()))
            .AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.Q8_0, [H, F, E], gate)
            .AddTensor("blk.0.ffn_up_exps.weight", GgmlType.Q8_0, [H, F, E], up)
            .AddTensor("blk.0.ffn_down_exps.weight", GgmlType.Q4_K, [F, H, E], down)
            .WriteTo(model);
        var x = Rand(Tokens * H, 0.25f);
        var input = Path.Combine(_dir, "x.f32");
        File.WriteAllBytes(input, MemoryMarshal.AsBytes(x.AsSpan()).ToArray());

        foreach (var path in new[] { "matvec", "tiled" })
        {
            var output = Path.Combine(_dir, $"y-{path}.f32");
            var r = FerrumProcess.Run("opencl", model, "--layer", "0", "--input", input, "--output", output, "--path", path);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Contains("backend opencl", r.Stdout);
            var y = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
            var expected = Reference(x, router, gateF, upF, downF);
            double num = 0, den = 0;
            for (var i = 0; i < y.Length; i++)
            {
                num += (y[i] - expected[i]) * (y[i] - expected[i]);
                den += expected[i] * expected[i];
            }

            Assert.Equal(expected.Length, y.Length);
            Assert.True(num / den <= 5e-4, $"{path}: NMSE {num / den:E3}");
        }

        // `ferrum moe --backend opencl` against `--backend cpu` on the same layer.
        var yCpu = Path.Combine(_dir, "y-cpu.f32");
        var yOcl = Path.Combine(_dir, "y-ocl.f32");
        var cpu = FerrumProcess.Run("moe", model, "--layer", "0", "--input", input, "--output", yCpu, "--backend", "cpu");
        Assert.True(cpu.ExitCode == 0, cpu.Stderr);
        var ocl = FerrumProcess.Run("moe", model, "--layer", "0", "--input", input, "--output", yOcl, "--backend", "opencl", "--device", "0");
        Assert.True(ocl.ExitCode == 0, ocl.Stderr);
        Assert.Contains("backend opencl", ocl.Stdout);
        var a = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(yCpu)).ToArray();
        var b = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(yOcl)).ToArray();
        double n2 = 0, d2 = 0;
        for (var i = 0; i < a.Length; i++)
        {
            n2 += (a[i] - b[i]) * (a[i] - b[i]);
            d2 += a[i] * a[i];
        }

        Assert.Equal(a.Length, b.Length);
        Assert.True(n2 / d2 <= 5e-4, $"moe --backend opencl vs cpu: NMSE {n2 / d2:E3}");
    }

    [Fact]
    public void Ferrum_run_measures_the_opencl_backend_on_a_chosen_device()
    {
        // The demo picks GPUs only; FERRUM_OPENCL_DEVICE makes it measure pocl's CPU device too, checked against the exact reference.
        var model = Path.Combine(_dir, "demo.gguf");
        Ferrum.Sample.Demo.DemoModel.Build(model, new Ferrum.Sample.Demo.DemoShape(Layers: 2, Hidden: 256, ExpertFfn: 256, Experts: 8, TopK: 2));
        var r = FerrumProcess.RunFrom(AppContext.BaseDirectory, new Dictionary<string, string?> { ["FERRUM_OPENCL_DEVICE"] = "0" }, "run", "--model", model, "--prefill", "8", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Matches(@"opencl\s+│\s+decode", r.Stdout);
        Assert.Matches(@"opencl\s+│\s+prefill 8", r.Stdout);
        Assert.DoesNotContain("opencl skipped", r.Stdout);
    }

    [Fact]
    public void An_unknown_device_is_a_one_line_error()
    {
        var model = Path.Combine(_dir, "m.gguf");
        new GgufWriter().AddMetadata("general.architecture", "qwen3moe").AddMetadata("qwen3moe.block_count", 1u)
            .AddMetadata("qwen3moe.embedding_length", 32u).AddMetadata("qwen3moe.expert_count", 2u).AddMetadata("qwen3moe.expert_used_count", 1u)
            .AddMetadata("qwen3moe.expert_feed_forward_length", 32u).WriteTo(model);
        var input = Path.Combine(_dir, "x.f32");
        File.WriteAllBytes(input, new byte[32 * 4]);
        var r = FerrumProcess.Run("opencl", model, "--layer", "0", "--input", input, "--output", Path.Combine(_dir, "y"), "--device", "no-such-device");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("ferrum: error: no OpenCL device matches 'no-such-device'", r.Stderr);
    }

    private static (byte[] Blocks, float[] Values) Quant(GgmlType type, float[] values)
    {
        var blocks = new byte[Quantizer.ByteCount(type, values.Length)];
        Quantizer.Quantize(type, values, blocks);
        var back = new float[values.Length];
        Dequantizer.Dequantize(type, blocks, back);
        return (blocks, back);
    }

    /// <summary>qwen3moe in double: softmax, top-k, renormalize; Σ w·down(SiLU(gate·x)·(up·x)).</summary>
    private static double[] Reference(float[] x, float[] router, float[] gate, float[] up, float[] down)
    {
        var y = new double[Tokens * H];
        for (var t = 0; t < Tokens; t++)
        {
            var logits = Enumerable.Range(0, E).Select(e => Enumerable.Range(0, H).Sum(k => (double)router[(e * H) + k] * x[(t * H) + k])).ToArray();
            var max = logits.Max();
            var p = logits.Select(l => Math.Exp(l - max)).ToArray();
            var sum = p.Sum();
            var top = Enumerable.Range(0, E).OrderByDescending(e => p[e]).Take(K).ToArray();
            var wsum = top.Sum(e => p[e] / sum);
            foreach (var e in top)
            {
                var w = p[e] / sum / wsum;
                var act = new double[F];
                for (var r = 0; r < F; r++)
                {
                    double g = 0, u = 0;
                    for (var k = 0; k < H; k++)
                    {
                        g += (double)gate[(((e * F) + r) * H) + k] * x[(t * H) + k];
                        u += (double)up[(((e * F) + r) * H) + k] * x[(t * H) + k];
                    }

                    act[r] = g / (1 + Math.Exp(-g)) * u;
                }

                for (var h = 0; h < H; h++)
                {
                    double acc = 0;
                    for (var f = 0; f < F; f++)
                    {
                        acc += down[(((e * H) + h) * F) + f] * act[f];
                    }

                    y[(t * H) + h] += w * acc;
                }
            }
        }

        return y;
    }
}
