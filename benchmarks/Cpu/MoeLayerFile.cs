using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// <c>moe-layer FILE FORMAT [hidden ffn experts topk]</c>: writes a one-layer OLMoE-shaped MoE GGUF (router f32,
/// gate/up/down experts all in FORMAT, quantized by ggml) for <c>ferrum bench --model FILE</c>. Default shape:
/// hidden 2048, expert FFN 768, 32 experts, top-8 (an OLMoE / Qwen3-30B-A3B-like layer with fewer experts).
/// </summary>
internal static unsafe class MoeLayerFile
{
    public static int Run(string[] args, TextWriter o)
    {
        if (args.Length < 3)
        {
            o.WriteLine("usage: moe-layer FILE FORMAT [hidden ffn experts topk]");
            return 2;
        }

        string path = args[1];
        var type = GgmlTypeInfo.All.FirstOrDefault(t => string.Equals(t.Name, args[2], StringComparison.OrdinalIgnoreCase))?.Type
            ?? throw new ArgumentException($"unknown format '{args[2]}'");
        int h = args.Length > 3 ? int.Parse(args[3]) : 2048;
        int f = args.Length > 4 ? int.Parse(args[4]) : 768;
        int e = args.Length > 5 ? int.Parse(args[5]) : 32;
        int k = args.Length > 6 ? int.Parse(args[6]) : 8;
        const string arch = "olmoe";
        var w = new GgufWriter()
            .AddMetadata("general.architecture", arch)
            .AddMetadata($"{arch}.block_count", 1u)
            .AddMetadata($"{arch}.embedding_length", (uint)h)
            .AddMetadata($"{arch}.expert_feed_forward_length", (uint)f)
            .AddMetadata($"{arch}.expert_count", (uint)e)
            .AddMetadata($"{arch}.expert_used_count", (uint)k);
        w.AddTensor("blk.0.ffn_gate_inp.weight", [h, e], Random((long)h * e, 1, 0.1f));
        w.AddTensor("blk.0.ffn_gate_exps.weight", type, [h, f, e], Quantize(type, h, (long)f * e, 2, 1 / MathF.Sqrt(h)));
        w.AddTensor("blk.0.ffn_up_exps.weight", type, [h, f, e], Quantize(type, h, (long)f * e, 3, 1 / MathF.Sqrt(h)));
        w.AddTensor("blk.0.ffn_down_exps.weight", type, [f, h, e], Quantize(type, f, (long)h * e, 4, 1 / MathF.Sqrt(f)));
        w.WriteTo(path);
        o.WriteLine($"{path}: olmoe layer, {GgmlTypeInfo.Get(type).Name}, hidden {h}, ffn {f}, {e} experts, top-{k}");
        return 0;
    }

    private static float[] Random(long n, int seed, float scale)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (long i = 0; i < n; i++)
        {
            v[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        }

        return v;
    }

    private static byte[] Quantize(GgmlType type, int perRow, long rows, int seed, float scale)
    {
        var info = GgmlTypeInfo.Get(type);
        var dst = new byte[checked((int)(info.RowBytes(perRow) * rows))];
        var src = Random(perRow * rows, seed, scale * 1.7f);
        fixed (float* s = src)
        fixed (byte* d = dst)
        {
            GgmlCpuOps.QuantizeRows((int)type, s, d, rows, perRow);
        }

        return dst;
    }
}
