using System.Diagnostics;
using System.Runtime.InteropServices;
using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Ferrum.Quantization;
using Xunit.Abstractions;

namespace Ferrum.Cli.Tests;

/// <summary>
/// <c>ferrum moe FILE --backend opencl</c> on one-block GGUF files of every architecture, a spread of weight formats
/// over them, decode (1 token: mat-vec kernels) and prefill (17 tokens: tiled kernels), each compared with the exact
/// reference computed here: weights quantized and dequantized by ggml, routing and the FFNs in double precision from
/// llama.cpp's build_moe_ffn rules (written out below, independently of the runtime's router).
/// </summary>
public sealed class MoeOpenCLArchitectureTests(ITestOutputHelper output) : IDisposable
{
    private const int H = 256, F = 256, E = 8, K = 2;
    private const double MaxNmse = 1e-3;
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-arch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Each architecture once, with formats spread over the decode families (legacy, K-quants, i-quants, floats, mxfp4).</summary>
    public static TheoryData<string, GgmlType> Cases() => new()
    {
        { "qwen3moe", GgmlType.Q4_K },
        { "qwen2moe", GgmlType.Q4_0 },
        { "olmoe", GgmlType.IQ4_XS },
        { "llama", GgmlType.BF16 },
        { "deepseek2", GgmlType.Q5_K },
        { "gpt-oss", GgmlType.MXFP4 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Moe_on_opencl_matches_the_exact_reference(string arch, GgmlType type)
    {
        var block = ArchBlock.Create(arch, type, seed: 17 * (int)type + arch.Length);
        var model = Path.Combine(_dir, $"{arch}-{type}.gguf");
        block.Write(model);
        foreach (var tokens in new[] { 1, 17 })
        {
            var x = ArchBlock.Random(tokens * H, 1000 + tokens, 1.0);
            var input = Path.Combine(_dir, $"x{tokens}.f32");
            File.WriteAllBytes(input, MemoryMarshal.AsBytes(x.AsSpan()).ToArray());
            var outFile = Path.Combine(_dir, $"y-{arch}-{tokens}.f32");
            var sw = Stopwatch.StartNew();
            var r = FerrumProcess.Run("moe", model, "--layer", "0", "--input", input, "--output", outFile, "--backend", "opencl", "--device", "0");
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            Assert.Contains("backend opencl", r.Stdout);
            var y = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outFile)).ToArray();
            var expected = block.Reference(x, tokens);
            Assert.Equal(expected.Length, y.Length);
            double num = 0, den = 0;
            for (var i = 0; i < y.Length; i++)
            {
                num += (y[i] - expected[i]) * (y[i] - expected[i]);
                den += expected[i] * expected[i];
            }

            Assert.True(den > 1e-6 * y.Length, "degenerate reference output");
            output.WriteLine($"{arch} {GgmlTypeInfo.Get(type).Name} T={tokens}: NMSE {num / den:E2}, {sw.ElapsedMilliseconds} ms");
            Assert.True(num / den <= MaxNmse, $"{arch} {type} T={tokens}: NMSE {num / den:E3} against the exact reference");
        }
    }
}

/// <summary>A random one-block MoE GGUF of one architecture and format, and its exact reference output.</summary>
internal sealed class ArchBlock
{
    private const int H = 256, F = 256, SF = 256, E = 8, K = 2;

    private ArchBlock(string arch, GgmlType type) => (Arch, Type) = (arch, type);

    public string Arch { get; }

    public GgmlType Type { get; }

    private float[] Router { get; set; } = [];

    private (byte[] Q, float[] F) Gate { get; set; }

    private (byte[] Q, float[] F) Up { get; set; }

    private (byte[] Q, float[] F) Down { get; set; }

    private (byte[] Q, float[] F)? ShGate { get; set; }

    private (byte[] Q, float[] F)? ShUp { get; set; }

    private (byte[] Q, float[] F)? ShDown { get; set; }

    private float[]? ShInp { get; set; }

    private float[]? SelBias { get; set; }

    private float[]? RouterBias { get; set; }

    private float[]? GateBias { get; set; }

    private float[]? UpBias { get; set; }

    private float[]? DownBias { get; set; }

    public static float[] Random(int n, int seed, double scale)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
    }

    public static ArchBlock Create(string arch, GgmlType type, int seed)
    {
        var b = new ArchBlock(arch, type);
        b.Router = Random(E * H, seed, 0.15);
        b.Gate = Quant(type, Random(E * F * H, seed + 1, 0.1), F * E, H);
        b.Up = Quant(type, Random(E * F * H, seed + 2, 0.1), F * E, H);
        b.Down = Quant(type, Random(E * H * F, seed + 3, 0.1), H * E, F);
        if (arch is "qwen2moe" or "deepseek2")
        {
            b.ShGate = Quant(type, Random(SF * H, seed + 4, 0.1), SF, H);
            b.ShUp = Quant(type, Random(SF * H, seed + 5, 0.1), SF, H);
            b.ShDown = Quant(type, Random(H * SF, seed + 6, 0.1), H, SF);
        }

        if (arch == "qwen2moe")
        {
            b.ShInp = Random(H, seed + 7, 0.2);
        }

        if (arch == "deepseek2")
        {
            b.SelBias = Random(E, seed + 8, 0.05);
        }

        if (arch == "gpt-oss")
        {
            b.RouterBias = Random(E, seed + 9, 0.5);
            b.GateBias = Random(E * F, seed + 10, 0.3);
            b.UpBias = Random(E * F, seed + 11, 0.3);
            b.DownBias = Random(E * H, seed + 12, 0.3);
        }

        return b;
    }

    public void Write(string path)
    {
        var w = new GgufWriter();
        w.AddMetadata("general.architecture", Arch);
        w.AddMetadata(Arch + ".block_count", 1u);
        w.AddMetadata(Arch + ".embedding_length", (uint)H);
        w.AddMetadata(Arch + ".feed_forward_length", (uint)(4 * F));
        w.AddMetadata(Arch + ".expert_feed_forward_length", (uint)F);
        w.AddMetadata(Arch + ".expert_count", (uint)E);
        w.AddMetadata(Arch + ".expert_used_count", (uint)K);
        if (Arch == "qwen2moe")
        {
            w.AddMetadata(Arch + ".expert_shared_feed_forward_length", (uint)SF);
        }

        if (Arch == "deepseek2")
        {
            w.AddMetadata(Arch + ".expert_shared_count", (uint)(SF / F));
            w.AddMetadata(Arch + ".expert_gating_func", 2u);
            w.AddMetadata(Arch + ".expert_weights_norm", true);
            w.AddMetadata(Arch + ".expert_weights_scale", 2.5f);
            w.AddMetadata(Arch + ".expert_group_count", 4u);
            w.AddMetadata(Arch + ".expert_group_used_count", 2u);
            w.AddMetadata(Arch + ".leading_dense_block_count", 0u);
        }

        static byte[] Bytes(float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();
        w.AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [H, E], Bytes(Router));
        w.AddTensor("blk.0.ffn_gate_exps.weight", Type, [H, F, E], Gate.Q);
        w.AddTensor("blk.0.ffn_up_exps.weight", Type, [H, F, E], Up.Q);
        w.AddTensor("blk.0.ffn_down_exps.weight", Type, [F, H, E], Down.Q);
        if (ShGate is { } sg)
        {
            w.AddTensor("blk.0.ffn_gate_shexp.weight", Type, [H, SF], sg.Q);
            w.AddTensor("blk.0.ffn_up_shexp.weight", Type, [H, SF], ShUp!.Value.Q);
            w.AddTensor("blk.0.ffn_down_shexp.weight", Type, [SF, H], ShDown!.Value.Q);
        }

        if (ShInp != null)
        {
            w.AddTensor("blk.0.ffn_gate_inp_shexp.weight", GgmlType.F32, [H], Bytes(ShInp));
        }

        if (SelBias != null)
        {
            w.AddTensor("blk.0.exp_probs_b.bias", GgmlType.F32, [E], Bytes(SelBias));
        }

        if (RouterBias != null)
        {
            w.AddTensor("blk.0.ffn_gate_inp.bias", GgmlType.F32, [E], Bytes(RouterBias));
            w.AddTensor("blk.0.ffn_gate_exps.bias", GgmlType.F32, [F, E], Bytes(GateBias!));
            w.AddTensor("blk.0.ffn_up_exps.bias", GgmlType.F32, [F, E], Bytes(UpBias!));
            w.AddTensor("blk.0.ffn_down_exps.bias", GgmlType.F32, [H, E], Bytes(DownBias!));
        }

        w.WriteTo(path);
    }

    /// <summary>
    /// llama.cpp's build_moe_ffn in double: logits (+ router bias); softmax (qwen3moe, qwen2moe, olmoe, Mixtral),
    /// sigmoid (deepseek2 with expert_gating_func 2) or raw logits with a softmax over the selected (gpt-oss); top-k on
    /// the probabilities plus exp_probs_b, within the best 2 of 4 groups for deepseek2 (a group scores its two best);
    /// renormalization (qwen3moe, Mixtral, deepseek2 with expert_weights_norm) and scale 2.5 (deepseek2); SiLU(g)·u or
    /// gpt-oss's clamped swiglu (alpha 1.702, limit 7) with the expert biases; the shared expert with SiLU, gated by
    /// sigmoid(ffn_gate_inp_shexp·x) in qwen2moe.
    /// </summary>
    public double[] Reference(float[] x, int tokens)
    {
        var y = new double[tokens * H];
        for (var t = 0; t < tokens; t++)
        {
            var xt = x.AsSpan(t * H, H).ToArray();
            var logits = new double[E];
            for (var e = 0; e < E; e++)
            {
                logits[e] = (RouterBias?[e] ?? 0) + Dot(Router, e * H, xt);
            }

            double[] probs = Arch switch
            {
                "deepseek2" => logits.Select(l => 1 / (1 + Math.Exp(-l))).ToArray(),
                "gpt-oss" => logits,
                _ => Softmax(logits),
            };
            var sel = probs.Select((p, e) => p + (SelBias?[e] ?? 0)).ToArray();
            if (Arch == "deepseek2")
            {
                const int groups = 4, used = 2, per = E / groups;
                var score = Enumerable.Range(0, groups).Select(g => sel.Skip(g * per).Take(per).OrderDescending().Take(2).Sum()).ToArray();
                var kept = Enumerable.Range(0, groups).OrderByDescending(g => score[g]).ThenBy(g => g).Take(used).ToHashSet();
                sel = sel.Select((v, e) => kept.Contains(e / per) ? v : double.NegativeInfinity).ToArray();
            }

            var ids = Enumerable.Range(0, E).OrderByDescending(e => sel[e]).ThenBy(e => e).Take(K).ToArray();
            var w = ids.Select(e => probs[e]).ToArray();
            if (Arch == "gpt-oss")
            {
                w = Softmax(w);
            }

            if (Arch is "qwen3moe" or "llama" or "deepseek2")
            {
                var s = Math.Max(w.Sum(), 6.103515625e-5);
                w = w.Select(v => v / s).ToArray();
            }

            if (Arch == "deepseek2")
            {
                w = w.Select(v => v * 2.5).ToArray();
            }

            for (var k = 0; k < K; k++)
            {
                var o = Ffn(Gate.F, Up.F, Down.F, ids[k], F, xt, GateBias, UpBias, DownBias, Arch == "gpt-oss");
                for (var i = 0; i < H; i++)
                {
                    y[(t * H) + i] += w[k] * o[i];
                }
            }

            if (ShGate is { } sg)
            {
                var gateW = ShInp is null ? 1.0 : 1 / (1 + Math.Exp(-Dot(ShInp, 0, xt)));
                var o = Ffn(sg.F, ShUp!.Value.F, ShDown!.Value.F, 0, SF, xt, null, null, null, false);
                for (var i = 0; i < H; i++)
                {
                    y[(t * H) + i] += gateW * o[i];
                }
            }
        }

        return y;
    }

    private static double[] Ffn(float[] gate, float[] up, float[] down, int e, int f, float[] x, float[]? gb, float[]? ub, float[]? db, bool oai)
    {
        var act = new double[f];
        for (var r = 0; r < f; r++)
        {
            double g = (gb?[(e * f) + r] ?? 0) + Dot(gate, ((e * f) + r) * H, x);
            double u = (ub?[(e * f) + r] ?? 0) + Dot(up, ((e * f) + r) * H, x);
            if (oai)
            {
                g = Math.Min(g, 7);
                u = Math.Clamp(u, -7, 7);
                act[r] = g / (1 + Math.Exp(-1.702 * g)) * (u + 1);
            }
            else
            {
                act[r] = g / (1 + Math.Exp(-g)) * u;
            }
        }

        var o = new double[H];
        for (var i = 0; i < H; i++)
        {
            double s = db?[(e * H) + i] ?? 0;
            for (var j = 0; j < f; j++)
            {
                s += down[(((long)e * H + i) * f) + j] * act[j];
            }

            o[i] = s;
        }

        return o;
    }

    private static double Dot(float[] w, int offset, float[] x)
    {
        double s = 0;
        for (var i = 0; i < x.Length; i++)
        {
            s += (double)w[offset + i] * x[i];
        }

        return s;
    }

    private static double[] Softmax(double[] v)
    {
        var m = v.Max();
        var e = v.Select(a => Math.Exp(a - m)).ToArray();
        var s = e.Sum();
        return e.Select(a => a / s).ToArray();
    }

    /// <summary>ggml's quantizer and to_float: the bytes the file holds and the values they decode to.</summary>
    private static (byte[] Q, float[] F) Quant(GgmlType type, float[] values, int rows, int perRow)
    {
        var q = new byte[GgmlTypeInfo.Get(type).RowBytes(perRow) * rows];
        if (type == GgmlType.F32)
        {
            MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(q);
            return (q, values);
        }

        GgmlQuant.QuantizeChunk((int)type, values, q, rows, perRow);
        var back = new float[values.Length];
        GgmlQuant.ToFloat((int)type, q, back);
        return (q, back);
    }
}
