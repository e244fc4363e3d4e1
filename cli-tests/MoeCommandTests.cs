using System.Runtime.InteropServices;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Cli.Tests;

/// <summary>
/// <c>ferrum moe</c> on a small qwen3moe block with F32 weights, against the block computed here in double
/// precision from the formulas (softmax, top-2, renormalize, SiLU·up, down, weighted sum).
/// </summary>
public sealed class MoeCommandTests : IDisposable
{
    private const int H = 64, F = 32, E = 4, K = 2, T = 3;
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-moe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static float[] Random(int n, int seed, double scale)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    private static byte[] Bytes(float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    [Fact]
    public void Writes_the_block_output_and_reports_the_kernels()
    {
        var router = Random(H * E, 1, 0.5);
        var gate = Random(H * F * E, 2, 0.3);
        var up = Random(H * F * E, 3, 0.3);
        var down = Random(F * H * E, 4, 0.3);
        var path = Path.Combine(_dir, "m.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "qwen3moe")
            .AddMetadata("qwen3moe.block_count", 1u)
            .AddMetadata("qwen3moe.embedding_length", (uint)H)
            .AddMetadata("qwen3moe.expert_feed_forward_length", (uint)F)
            .AddMetadata("qwen3moe.expert_count", (uint)E)
            .AddMetadata("qwen3moe.expert_used_count", (uint)K)
            .AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [H, E], Bytes(router))
            .AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.F32, [H, F, E], Bytes(gate))
            .AddTensor("blk.0.ffn_up_exps.weight", GgmlType.F32, [H, F, E], Bytes(up))
            .AddTensor("blk.0.ffn_down_exps.weight", GgmlType.F32, [F, H, E], Bytes(down))
            .WriteTo(path);
        var x = Random(T * H, 5, 1);
        var input = Path.Combine(_dir, "x.f32");
        var output = Path.Combine(_dir, "y.f32");
        File.WriteAllBytes(input, Bytes(x));

        var r = FerrumProcess.Run("moe", path, "--layer", "0", "--input", input, "--output", output, "--threads", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("qwen3moe layer 0: 3 token(s)", r.Stdout);
        Assert.Contains("gate: f32·f32", r.Stdout);

        var y = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(output)).ToArray();
        Assert.Equal(T * H, y.Length);
        for (int t = 0; t < T; t++)
        {
            var logits = Enumerable.Range(0, E).Select(e => Enumerable.Range(0, H).Sum(i => (double)router[e * H + i] * x[t * H + i])).ToArray();
            double max = logits.Max();
            var p = logits.Select(l => Math.Exp(l - max)).ToArray();
            double z = p.Sum();
            var top = Enumerable.Range(0, E).OrderByDescending(e => p[e]).ThenBy(e => e).Take(K).ToArray();
            double wsum = top.Sum(e => p[e] / z);
            for (int o = 0; o < H; o++)
            {
                double acc = 0;
                foreach (var e in top)
                {
                    double s = 0;
                    for (int j = 0; j < F; j++)
                    {
                        double g = 0, u = 0;
                        for (int i = 0; i < H; i++)
                        {
                            g += (double)gate[(e * F + j) * H + i] * x[t * H + i];
                            u += (double)up[(e * F + j) * H + i] * x[t * H + i];
                        }

                        s += down[(e * H + o) * F + j] * (g / (1 + Math.Exp(-g)) * u);
                    }

                    acc += p[e] / z / wsum * s;
                }

                Assert.Equal(acc, y[t * H + o], 4);
            }
        }
    }

    [Fact]
    public void Input_of_the_wrong_length_is_a_one_line_error()
    {
        var path = Path.Combine(_dir, "m.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "qwen3moe")
            .AddMetadata("qwen3moe.block_count", 1u)
            .AddMetadata("qwen3moe.embedding_length", (uint)H)
            .AddMetadata("qwen3moe.expert_feed_forward_length", (uint)F)
            .AddMetadata("qwen3moe.expert_count", (uint)E)
            .AddMetadata("qwen3moe.expert_used_count", (uint)K)
            .AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [H, E], new byte[4 * H * E])
            .AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.F32, [H, F, E], new byte[4 * H * F * E])
            .AddTensor("blk.0.ffn_up_exps.weight", GgmlType.F32, [H, F, E], new byte[4 * H * F * E])
            .AddTensor("blk.0.ffn_down_exps.weight", GgmlType.F32, [F, H, E], new byte[4 * H * F * E])
            .WriteTo(path);
        var input = Path.Combine(_dir, "x.f32");
        File.WriteAllBytes(input, new byte[4 * H + 4]);
        var r = FerrumProcess.Run("moe", path, "--layer", "0", "--input", input, "--output", Path.Combine(_dir, "y.f32"));
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("ferrum: error: input", r.Stderr.Trim());
        Assert.Contains("multiple of hidden (64)", r.Stderr);
    }

    [Fact]
    public void Declared_qwen3_shape_runs_the_generated_specialized_kernels()
    {
        // kernels.yaml declares qwen3-30b-a3b (hidden 2048, expert FFN 768, q4_K gate/up, q4_K|q6_K down): the
        // generated classes register row-length-specialized CPU kernels, which the CLI must report having run.
        const int h = 2048, f = 768, e = 2;
        byte[] Q(GgmlType type, int n, int seed)
        {
            var v = Random(n, seed, 0.05);
            var b = new byte[Quantizer.ByteCount(type, n)];
            Quantizer.Quantize(type, v, b);
            return b;
        }

        var path = Path.Combine(_dir, "q.gguf");
        new GgufWriter()
            .AddMetadata("general.architecture", "qwen3moe")
            .AddMetadata("qwen3moe.block_count", 1u)
            .AddMetadata("qwen3moe.embedding_length", (uint)h)
            .AddMetadata("qwen3moe.expert_feed_forward_length", (uint)f)
            .AddMetadata("qwen3moe.expert_count", (uint)e)
            .AddMetadata("qwen3moe.expert_used_count", 1u)
            .AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [h, e], Bytes(Random(h * e, 11, 0.05)))
            .AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.Q4_K, [h, f, e], Q(GgmlType.Q4_K, h * f * e, 12))
            .AddTensor("blk.0.ffn_up_exps.weight", GgmlType.Q4_K, [h, f, e], Q(GgmlType.Q4_K, h * f * e, 13))
            .AddTensor("blk.0.ffn_down_exps.weight", GgmlType.Q6_K, [f, h, e], Q(GgmlType.Q6_K, h * f * e, 14))
            .WriteTo(path);
        var input = Path.Combine(_dir, "x.f32");
        File.WriteAllBytes(input, Bytes(Random(2 * h, 15, 1)));
        var r = FerrumProcess.Run("moe", path, "--layer", "0", "--input", input, "--output", Path.Combine(_dir, "y.f32"), "--threads", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        bool avx512 = System.Runtime.Intrinsics.X86.Avx512BW.IsSupported;
        Assert.Contains(avx512 ? "gate: q4_K·q8_K avx512×4 specialized k=2048" : "gate: q4_K·q8_K", r.Stdout);
        Assert.Contains(avx512 ? "down: q6_K·q8_K avx512×4 specialized k=768" : "down: q6_K·q8_K", r.Stdout);
        var y = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(_dir, "y.f32"))).ToArray();
        Assert.Equal(2 * h, y.Length);
        Assert.All(y, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(y, v => v != 0);
    }
}
