using System.Runtime.InteropServices;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.SyntheticModels;

/// <summary>
/// Writes a whole synthetic MoE model as GGUF: every tensor llama.cpp's loader requires for the architecture, with
/// its names and shapes (llama-arch.cpp / src/models/*.cpp), quantized with Ferrum's quantizers, the metadata it
/// reads, and the architecture family's tokenizer vocabulary (<see cref="ModelVocabulary"/>).
/// </summary>
/// <remarks>
/// Weight scales keep the residual stream at unit scale (Gaussian embedding rows, projections with std
/// 1/sqrt(fan-in)); each block adds <see cref="SyntheticModelSpec.BlockScale"/> of that. The output head follows the
/// embedding through a fixed permutation (see <see cref="SyntheticModelSpec.OutputScale"/>), so the logits are peaked
/// and greedy decoding is not decided by rounding noise, while attention and the experts still move the argmax.
/// </remarks>
public static class SyntheticModelWriter
{
    /// <summary>Writes <paramref name="spec"/> to <paramref name="path"/>; <paramref name="progress"/> gets (fraction, tensor name).</summary>
    public static void Write(SyntheticModelSpec spec, string path, Action<double, string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var (writer, tensors) = Plan(spec);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var start = writer.WriteMetadataTo(stream);
        var offsets = writer.DataOffsets;
        for (int i = 0; i < tensors.Count; i++)
        {
            progress?.Invoke((double)i / tensors.Count, tensors[i].Name);
            stream.Position = start + offsets[i];
            stream.Write(tensors[i].Data());
        }

        stream.SetLength(start + writer.DataSize);
        progress?.Invoke(1, "done");
    }

    /// <summary>The tensors (name, ggml type, shape) a spec produces, in file order.</summary>
    public static IReadOnlyList<(string Name, GgmlType Type, long[] Shape)> TensorList(SyntheticModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        return Plan(spec).Tensors.Select(t => (t.Name, t.Type, t.Shape)).ToArray();
    }

    private sealed record Planned(string Name, GgmlType Type, long[] Shape, Func<byte[]> Data);

    private static (GgufWriter Writer, List<Planned> Tensors) Plan(SyntheticModelSpec s)
    {
        string a = s.Architecture;
        int h = s.Hidden, qw = s.Heads * s.HeadDim, kw = s.KvHeads * s.HeadDim, f = s.ExpertFfn, e = s.Experts, v = s.VocabSize;
        var fm = s.Formats;
        var w = new SyntheticWeights(s.Seed, s.QuantizedRowPool);
        var writer = new GgufWriter()
            .AddMetadata("general.architecture", a)
            .AddMetadata("general.name", $"Ferrum synthetic {a} ({s.Layers} layers, hidden {h}, {e} experts top-{s.TopK})")
            .AddMetadata($"{a}.context_length", (uint)s.ContextLength)
            .AddMetadata($"{a}.embedding_length", (uint)h)
            .AddMetadata($"{a}.block_count", (uint)s.Layers)
            .AddMetadata($"{a}.feed_forward_length", (uint)(a switch { "qwen3moe" => f * s.TopK, "qwen2moe" => s.SharedExpertFfn, _ => f }))
            .AddMetadata($"{a}.attention.head_count", (uint)s.Heads)
            .AddMetadata($"{a}.attention.head_count_kv", (uint)s.KvHeads)
            .AddMetadata($"{a}.attention.key_length", (uint)s.HeadDim)
            .AddMetadata($"{a}.attention.value_length", (uint)s.HeadDim)
            .AddMetadata($"{a}.attention.layer_norm_rms_epsilon", s.RmsEpsilon)
            .AddMetadata($"{a}.rope.freq_base", s.RopeFreqBase)
            .AddMetadata($"{a}.rope.dimension_count", (uint)s.HeadDim)
            .AddMetadata($"{a}.expert_count", (uint)e)
            .AddMetadata($"{a}.expert_used_count", (uint)s.TopK)
            .AddMetadata($"{a}.expert_feed_forward_length", (uint)f);
        if (a == "qwen2moe")
        {
            writer.AddMetadata($"{a}.expert_shared_feed_forward_length", (uint)s.SharedExpertFfn);
        }

        ModelVocabulary.WriteTo(writer, s);

        var tensors = new List<Planned>();
        void Add(string name, GgmlType type, long[] shape, Func<byte[]> data)
        {
            writer.AddTensorInfo(name, type, shape);
            tensors.Add(new Planned(name, type, shape, data));
        }

        byte[] F32(float[] x) => MemoryMarshal.AsBytes(x.AsSpan()).ToArray();
        byte[] Norm(string name, int n) => F32(w.Gaussian(name, n, 0.1f, 1f));
        float InvSqrt(int n) => 1f / MathF.Sqrt(n);

        // The embedding as the model will see it (quantized then decoded) feeds the aligned output head.
        byte[]? embd = null;
        byte[] Embedding() => embd ??= w.Rows("token_embd.weight", "token_embd", fm.Embedding, h, v, 1f, distinct: true);

        Add("token_embd.weight", fm.Embedding, [h, v], Embedding);
        Add("output_norm.weight", GgmlType.F32, [h], () => Norm("output_norm.weight", h));
        if (!s.TiedEmbeddings)
        {
            Add("output.weight", fm.Output, [h, v], () => OutputHead(s, w, Embedding()));
        }

        float block = s.BlockScale;
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"blk.{i}.";
            Add(p + "attn_norm.weight", GgmlType.F32, [h], () => Norm(p + "attn_norm.weight", h));
            Add(p + "attn_q.weight", fm.AttentionQko, [h, qw], () => w.Rows(p + "attn_q.weight", "attn_q", fm.AttentionQko, h, qw, InvSqrt(h)));
            Add(p + "attn_k.weight", fm.AttentionQko, [h, kw], () => w.Rows(p + "attn_k.weight", "attn_k", fm.AttentionQko, h, kw, InvSqrt(h)));
            Add(p + "attn_v.weight", fm.AttentionV, [h, kw], () => w.Rows(p + "attn_v.weight", "attn_v", fm.AttentionV, h, kw, InvSqrt(h)));
            Add(p + "attn_output.weight", fm.AttentionQko, [qw, h], () => w.Rows(p + "attn_output.weight", "attn_output", fm.AttentionQko, qw, h, block * InvSqrt(qw)));
            if (a == "qwen2moe")
            {
                Add(p + "attn_q.bias", GgmlType.F32, [qw], () => F32(w.Gaussian(p + "attn_q.bias", qw, 0.1f)));
                Add(p + "attn_k.bias", GgmlType.F32, [kw], () => F32(w.Gaussian(p + "attn_k.bias", kw, 0.1f)));
                Add(p + "attn_v.bias", GgmlType.F32, [kw], () => F32(w.Gaussian(p + "attn_v.bias", kw, 0.1f)));
            }

            if (a == "qwen3moe")
            {
                Add(p + "attn_q_norm.weight", GgmlType.F32, [s.HeadDim], () => Norm(p + "attn_q_norm.weight", s.HeadDim));
                Add(p + "attn_k_norm.weight", GgmlType.F32, [s.HeadDim], () => Norm(p + "attn_k_norm.weight", s.HeadDim));
            }
            else if (a == "olmoe")
            {
                Add(p + "attn_q_norm.weight", GgmlType.F32, [qw], () => Norm(p + "attn_q_norm.weight", qw));
                Add(p + "attn_k_norm.weight", GgmlType.F32, [kw], () => Norm(p + "attn_k_norm.weight", kw));
            }

            Add(p + "ffn_norm.weight", GgmlType.F32, [h], () => Norm(p + "ffn_norm.weight", h));

            // Router std 2/sqrt(h): routing logits of a few units, so top-k choices are rarely near-ties.
            Add(p + "ffn_gate_inp.weight", GgmlType.F32, [h, e], () => F32(w.Gaussian(p + "ffn_gate_inp.weight", (long)h * e, 2 * InvSqrt(h))));
            Add(p + "ffn_gate_exps.weight", fm.ExpertGateUp, [h, f, e], () => w.Rows(p + "ffn_gate_exps.weight", "ffn_gate_exps", fm.ExpertGateUp, h, (long)f * e, InvSqrt(h)));
            Add(p + "ffn_down_exps.weight", fm.ExpertDown, [f, h, e], () => w.Rows(p + "ffn_down_exps.weight", "ffn_down_exps", fm.ExpertDown, f, (long)h * e, 2 * block * InvSqrt(f)));
            Add(p + "ffn_up_exps.weight", fm.ExpertGateUp, [h, f, e], () => w.Rows(p + "ffn_up_exps.weight", "ffn_up_exps", fm.ExpertGateUp, h, (long)f * e, InvSqrt(h)));
            if (a == "qwen2moe")
            {
                int fs = s.SharedExpertFfn;
                Add(p + "ffn_gate_inp_shexp.weight", GgmlType.F32, [h], () => F32(w.Gaussian(p + "ffn_gate_inp_shexp.weight", h, InvSqrt(h))));
                Add(p + "ffn_gate_shexp.weight", fm.ExpertGateUp, [h, fs], () => w.Rows(p + "ffn_gate_shexp.weight", "ffn_gate_shexp", fm.ExpertGateUp, h, fs, InvSqrt(h)));
                Add(p + "ffn_down_shexp.weight", fm.ExpertDown, [fs, h], () => w.Rows(p + "ffn_down_shexp.weight", "ffn_down_shexp", fm.ExpertDown, fs, h, 2 * block * InvSqrt(fs)));
                Add(p + "ffn_up_shexp.weight", fm.ExpertGateUp, [h, fs], () => w.Rows(p + "ffn_up_shexp.weight", "ffn_up_shexp", fm.ExpertGateUp, h, fs, InvSqrt(h)));
            }
        }

        return (writer, tensors);
    }

    // Row j = OutputScale/sqrt(h) · (E[π(j)] + N(0, 1)): the token after j's embedding direction scores high.
    private static byte[] OutputHead(SyntheticModelSpec s, SyntheticWeights w, byte[] embeddingBytes)
    {
        int h = s.Hidden, v = s.VocabSize;
        var emb = new float[(long)h * v];
        Dequantizer.Dequantize(s.Formats.Embedding, embeddingBytes, emb);
        var rng = new Random(w.Seed("output.permutation"));
        var perm = Enumerable.Range(0, v).ToArray();
        rng.Shuffle(perm);
        var noise = w.Gaussian("output.weight", (long)h * v, 1f);
        float scale = s.OutputScale / MathF.Sqrt(h);
        var head = new float[(long)h * v];
        Parallel.For(0, v, j =>
        {
            long src = (long)perm[j] * h, dst = (long)j * h;
            for (int c = 0; c < h; c++)
            {
                head[dst + c] = scale * (emb[src + c] + noise[dst + c]);
            }
        });
        return SyntheticWeights.Quantize(s.Formats.Output, head, h);
    }
}
