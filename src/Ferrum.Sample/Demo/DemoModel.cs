using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Sample.Demo;

/// <summary>
/// The built-in demo model (<see cref="WholeModel"/>, cached at <see cref="CachePath"/>): a whole synthetic
/// Qwen3-30B-A3B-shaped model written by synthetic-models with Ferrum's quantizers and a real BPE vocabulary.
/// <see cref="Build"/> writes MoE-only files of any <see cref="DemoShape"/> for the tests of the MoE tools.
/// </summary>
/// <remarks>
/// Quantizing billions of weights with the reference quantizers would take many minutes, so weights come from a
/// pool of quantized rows (<see cref="PoolMatrices"/> matrices per role here, a row pool in synthetic-models), and
/// every expert's rows are drawn at random from that pool. Rows are independent blocks in every format, so each
/// expert is a valid, distinct matrix of real quantizer output, stored at its own address: the memory traffic and
/// the numerics of the kernels are those of a real file.
/// </remarks>
public static class DemoModel
{
    public const string Architecture = "qwen3moe";
    public const int PoolMatrices = 4;

    /// <summary>The demo's shape: Qwen3-30B-A3B's MoE layer, 4 layers.</summary>
    public static readonly DemoShape Default = new(Layers: 4, Hidden: 2048, ExpertFfn: 768, Experts: 128, TopK: 8);

    // Bump when the file's content changes, so a stale cached file is rebuilt.
    private const int FormatVersion = 2;

    /// <summary>
    /// The built-in demo: a whole Qwen3-30B-A3B-shaped model (hidden 2048, 32 query / 4 KV heads of 128, QK-norm,
    /// 128 experts of 768, top-8, q4_K_M mix) with <see cref="Default"/>'s layer count and a qwen2 BPE vocabulary
    /// trained on the shipped corpus: attention, MoE blocks, embedding and output head, as llama.cpp loads it.
    /// </summary>
    public static Ferrum.SyntheticModels.SyntheticModelSpec WholeModel => Ferrum.SyntheticModels.SyntheticModelPresets.Qwen3_30B_A3B(Default.Layers);

    /// <summary>The cached file: $XDG_CACHE_HOME/ferrum (or ~/.cache/ferrum) / demo-qwen3moe-vN.gguf.</summary>
    public static string CachePath
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(root))
            {
                root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            }

            return Path.Combine(root, "ferrum", $"demo-{Architecture}-v{FormatVersion}.gguf");
        }
    }

    /// <summary>Down projections of Q4_K_M files get q6_K on the layers llama.cpp's use_more_bits picks.</summary>
    public static GgmlType DownType(int layer, int layers)
    {
        // llama-quant.cpp: i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2, integer division.
        var n = layers;
        return layer < n / 8 || layer >= 7 * n / 8 || (layer - (n / 8)) % 3 == 2 ? GgmlType.Q6_K : GgmlType.Q4_K;
    }

    /// <summary>Builds the model at <paramref name="path"/> unless it already exists; reports progress in [0, 1].</summary>
    public static void EnsureBuilt(string path, Action<double, string>? progress = null)
    {
        if (File.Exists(path))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + $".{Environment.ProcessId}.tmp";
        try
        {
            Ferrum.SyntheticModels.SyntheticModelWriter.Write(WholeModel, temp, progress);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Builds the demo model unless cached, printing progress lines to <paramref name="log"/>; returns its path.</summary>
    public static string EnsureBuiltWithProgress(TextWriter log)
    {
        var path = CachePath;
        if (!File.Exists(path))
        {
            log.WriteLine($"building the demo model once: {path}");
            var last = -1;
            EnsureBuilt(path, (fraction, _) =>
            {
                var pct = (int)(fraction * 10) * 10;
                if (pct != last)
                {
                    last = pct;
                    log.WriteLine($"  {pct}%");
                }
            });
        }

        return path;
    }

    /// <summary>
    /// Writes an MoE-only model of <paramref name="shape"/> (router and experts per layer, no attention) to
    /// <paramref name="path"/>; for tests of the MoE tools and <c>ferrum bench --formats</c>. Gate, up and down are
    /// all <paramref name="expertType"/> when given, otherwise the Q4_K_M mix (q4_K, q6_K down on some layers).
    /// </summary>
    public static void Build(string path, DemoShape shape, Action<double, string>? progress = null, GgmlType? expertType = null)
    {
        var (layers, hidden, ffn, experts, topK) = shape;
        var writer = new GgufWriter()
            .AddMetadata("general.architecture", Architecture)
            .AddMetadata("general.name", "Ferrum demo (Qwen3-30B-A3B MoE shape, synthetic weights)")
            .AddMetadata($"{Architecture}.block_count", (uint)layers)
            .AddMetadata($"{Architecture}.embedding_length", (uint)hidden)
            .AddMetadata($"{Architecture}.feed_forward_length", (uint)(ffn * topK))
            .AddMetadata($"{Architecture}.expert_feed_forward_length", (uint)ffn)
            .AddMetadata($"{Architecture}.expert_count", (uint)experts)
            .AddMetadata($"{Architecture}.expert_used_count", (uint)topK);
        if (expertType == null)
        {
            writer.AddMetadata("general.file_type", 15u); // LLAMA_FTYPE_MOSTLY_Q4_K_M
        }

        var tensors = new List<(string Name, Func<byte[]> Data)>();
        var pools = new Dictionary<(int Role, GgmlType Type), byte[]>();
        for (var layer = 0; layer < layers; layer++)
        {
            var l = layer;
            var gateUp = expertType ?? GgmlType.Q4_K;
            var down = expertType ?? DownType(l, layers);
            Add(writer, tensors, $"blk.{l}.ffn_gate_inp.weight", GgmlType.F32, [hidden, experts], () => Router(l, hidden, experts));
            Add(writer, tensors, $"blk.{l}.ffn_gate_exps.weight", gateUp, [hidden, ffn, experts], () => Experts3D(pools, l, 0, gateUp, hidden, ffn, experts));
            Add(writer, tensors, $"blk.{l}.ffn_up_exps.weight", gateUp, [hidden, ffn, experts], () => Experts3D(pools, l, 1, gateUp, hidden, ffn, experts));
            Add(writer, tensors, $"blk.{l}.ffn_down_exps.weight", down, [ffn, hidden, experts], () => Experts3D(pools, l, 2, down, ffn, hidden, experts));
        }

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var start = writer.WriteMetadataTo(stream);
        var offsets = writer.DataOffsets;
        for (var i = 0; i < tensors.Count; i++)
        {
            progress?.Invoke((double)i / tensors.Count, tensors[i].Name);
            stream.Position = start + offsets[i];
            stream.Write(tensors[i].Data());
        }

        // The data section ends padded to the alignment, as ggml writes it.
        stream.SetLength(start + writer.DataSize);
        progress?.Invoke(1, "done");
    }

    private static void Add(GgufWriter writer, List<(string, Func<byte[]>)> tensors, string name, GgmlType type, long[] shape, Func<byte[]> data)
    {
        writer.AddTensorInfo(name, type, shape);
        tensors.Add((name, data));
    }

    /// <summary>
    /// Router weights [hidden, experts]: Gaussian with std 1/sqrt(hidden), so unit-scale inputs give logits of unit
    /// scale and independent directions per expert: top-K picks vary from token to token over all experts.
    /// </summary>
    private static byte[] Router(int layer, int hidden, int experts)
    {
        var rng = new Random(1000 + layer);
        var w = new float[hidden * experts];
        var std = 1.0 / Math.Sqrt(hidden);
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)(Gaussian(rng) * std);
        }

        var bytes = new byte[w.Length * sizeof(float)];
        Buffer.BlockCopy(w, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>All experts of one role in one layer: rows drawn from the quantized pool, seeded per layer and role.</summary>
    private static byte[] Experts3D(Dictionary<(int, GgmlType), byte[]> pools, int layer, int role, GgmlType type, int rowLength, int rows, int experts)
    {
        var rowBytes = checked((int)GgmlTypeInfo.Get(type).RowBytes(rowLength));
        var pool = Pool(pools, role, type, rowLength, rows);
        var poolRows = pool.Length / rowBytes;
        var data = new byte[checked((long)rowBytes * rows * experts)];
        var rng = new Random((layer * 7) + role + 1);
        for (var r = 0; r < rows * experts; r++)
        {
            var src = rng.Next(poolRows);
            Buffer.BlockCopy(pool, src * rowBytes, data, r * rowBytes, rowBytes);
        }

        return data;
    }

    private static byte[] Pool(Dictionary<(int, GgmlType), byte[]> pools, int role, GgmlType type, int rowLength, int rows)
    {
        if (pools.TryGetValue((role, type), out var cached))
        {
            return cached;
        }

        // Weights with std 1/sqrt(row length): each projection keeps activations at unit scale.
        var rowBytes = checked((int)GgmlTypeInfo.Get(type).RowBytes(rowLength));
        var pool = new byte[checked(rowBytes * rows * PoolMatrices)];
        var std = 1.0 / Math.Sqrt(rowLength);
        Parallel.For(0, PoolMatrices, m =>
        {
            var rng = new Random(((role + 1) * 100) + ((int)type * 10) + m);
            var x = new float[rowLength * rows];
            for (var i = 0; i < x.Length; i++)
            {
                x[i] = (float)(Gaussian(rng) * std);
            }

            Quantizer.Quantize(type, x, pool.AsSpan(m * rowBytes * rows, rowBytes * rows));
        });
        pools[(role, type)] = pool;
        return pool;
    }

    /// <summary>A standard normal sample.</summary>
    internal static double Gaussian(Random rng)
    {
        // Box-Muller; 1 - NextDouble() keeps the logarithm finite.
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}

/// <summary>Sizes of a synthetic MoE model: layers, hidden size, expert FFN size, experts, experts per token.</summary>
public sealed record DemoShape(int Layers, int Hidden, int ExpertFfn, int Experts, int TopK);
