using Ferrum.Gguf;
using Ferrum.Quantization;

/// <summary>Writes a small qwen3moe GGUF matching kernels.yaml (one layer) with Ferrum's writer and quantizers.</summary>
public static class Fixture
{
    public static void Write(string path, int hidden, int ffn, int experts, int topK)
    {
        var rng = new Random(5);
        byte[] Quantized(GgmlType type, int rowLength, int rows)
        {
            var x = new float[rowLength * rows];
            for (var i = 0; i < x.Length; i++)
            {
                x[i] = (float)((rng.NextDouble() - 0.5) / Math.Sqrt(rowLength));
            }

            var bytes = new byte[Quantizer.ByteCount(type, x.Length)];
            Quantizer.Quantize(type, x, bytes);
            return bytes;
        }

        var router = new float[hidden * experts];
        for (var i = 0; i < router.Length; i++)
        {
            router[i] = (float)(rng.NextDouble() - 0.5);
        }

        new GgufWriter()
            .AddMetadata("general.architecture", "qwen3moe")
            .AddMetadata("qwen3moe.block_count", 1u)
            .AddMetadata("qwen3moe.embedding_length", (uint)hidden)
            .AddMetadata("qwen3moe.expert_feed_forward_length", (uint)ffn)
            .AddMetadata("qwen3moe.expert_count", (uint)experts)
            .AddMetadata("qwen3moe.expert_used_count", (uint)topK)
            .AddTensor("blk.0.ffn_gate_inp.weight", [hidden, experts], router)
            .AddTensor("blk.0.ffn_gate_exps.weight", GgmlType.Q4_K, [hidden, ffn, experts], Quantized(GgmlType.Q4_K, hidden, ffn * experts))
            .AddTensor("blk.0.ffn_up_exps.weight", GgmlType.Q4_K, [hidden, ffn, experts], Quantized(GgmlType.Q4_K, hidden, ffn * experts))
            .AddTensor("blk.0.ffn_down_exps.weight", GgmlType.Q6_K, [ffn, hidden, experts], Quantized(GgmlType.Q6_K, ffn, hidden * experts))
            .WriteTo(path);
    }
}
