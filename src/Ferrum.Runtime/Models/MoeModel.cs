using Ferrum.Backends;
using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Inference;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Models;

/// <summary>
/// A whole Mixture-of-Experts transformer loaded from a GGUF file (qwen3moe, qwen2moe, olmoe, Mixtral-style llama):
/// token embedding, per layer RMSNorm → GQA attention with RoPE (and the architecture's QK-norm / QKV biases) →
/// residual → RMSNorm → MoE block (through <see cref="IMoeExecutor"/>) → residual, then the final norm and the output
/// head (tied to the embedding when output.weight is absent), following llama.cpp's graphs.
/// Weights are used in place over the file mapping; the file must stay open while the model lives.
/// Sessions share the model's layers and worker pool: sessions evaluating on several threads take turns.
/// </summary>
public sealed unsafe class MoeModel : IDisposable
{
    private readonly GgufMappingLease _lease;

    /// <summary>Held by the session that evaluates: one forward pass through the shared layers at a time.</summary>
    internal object EvaluationTurn { get; } = new();
    private readonly List<MoeSession> _sessions = new();
    private bool _disposed;

    private MoeModel(GgufFile file, MoeModelConfig config, MoeModelOptions options, CpuWorkerPool pool, GgufMappingLease lease)
    {
        File = file;
        Config = config;
        Options = options;
        Pool = pool;
        _lease = lease;
    }

    /// <summary>The file the weights live in.</summary>
    public GgufFile File { get; }

    /// <summary>Hyperparameters read from the metadata.</summary>
    public MoeModelConfig Config { get; }

    /// <summary>The options the model was loaded with.</summary>
    public MoeModelOptions Options { get; }

    /// <summary>The MoE hyperparameters (experts, top-k, gating) of the file.</summary>
    public MoeHyperParameters Moe { get; private set; } = null!;

    /// <summary>True when output.weight is absent and the output head reuses token_embd.weight.</summary>
    public bool TiedEmbeddings { get; private set; }

    /// <summary>The vocabulary size (rows of the embedding and the output head).</summary>
    public int VocabSize => Config.VocabSize;

    /// <summary>Kernel paths of the dense matrices and of each MoE block, for diagnostics.</summary>
    public IReadOnlyList<string> KernelPaths { get; private set; } = [];

    internal CpuWorkerPool Pool { get; }

    internal LayerWeights[] Layers { get; private set; } = [];

    internal DenseMatrix Output { get; private set; } = null!;

    internal float* OutputNorm { get; private set; }

    internal GgmlType EmbeddingType { get; private set; }

    internal byte* Embedding { get; private set; }

    internal long EmbeddingRowBytes { get; private set; }

    internal float[]? RopeFreqFactors { get; private set; }

    internal bool IsDisposed => _disposed;

    /// <summary>
    /// Loads the model from <paramref name="file"/>. <see cref="NotSupportedException"/> for architectures the forward
    /// does not run (naming what is missing), <see cref="GgufException"/> naming the tensor or key that is missing or malformed.
    /// </summary>
    public static MoeModel Load(GgufFile file, MoeModelOptions? options = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        options ??= new MoeModelOptions();
        if (options.Threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "Threads must be at least 1");
        }

        if (options.MaxBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxBatch, "MaxBatch must be at least 1");
        }

        if (options.KvCacheType is not (GgmlType.F16 or GgmlType.F32))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.KvCacheType, "the KV cache is f16 or f32");
        }

        var config = MoeModelConfig.FromFile(file);
        var lease = file.AcquireLease();
        var pool = new CpuWorkerPool(options.Threads);
        var model = new MoeModel(file, config, options, pool, lease);
        try
        {
            model.LoadWeights(ct);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private void LoadWeights(CancellationToken ct)
    {
        var c = Config;
        Moe = File.GetMoeHyperParameters();
        if (Moe.BlockCount != c.Layers || Moe.EmbeddingLength != c.Hidden)
        {
            throw new GgufException($"{File.Path}: MoE hyperparameters disagree with the model ({Moe})");
        }

        if (Moe.LeadingDenseBlockCount != 0)
        {
            throw new NotSupportedException($"{File.Path}: leading dense FFN layers are not supported");
        }

        var embd = File.GetTensor("token_embd.weight");
        if (!Dequantizer.Supports(embd.Type))
        {
            throw new GgufException($"{File.Path}: tensor 'token_embd.weight' is {embd.TypeInfo.Name}, which cannot be dequantized");
        }

        EmbeddingType = embd.Type;
        Embedding = File.GetTensorPointer(embd);
        EmbeddingRowBytes = embd.RowBytes;
        OutputNorm = DenseMatrix.Vector(File, "output_norm.weight", c.Hidden, required: true);
        TiedEmbeddings = !File.TryGetTensor("output.weight", out _);
        Output = DenseMatrix.Load(File, TiedEmbeddings ? "token_embd.weight" : "output.weight", c.Hidden, c.VocabSize);
        if (File.TryGetTensor("rope_freqs.weight", out _))
        {
            var ff = DenseMatrix.Vector(File, "rope_freqs.weight", c.RopeDimensions / 2, required: true);
            RopeFreqFactors = new ReadOnlySpan<float>(ff, c.RopeDimensions / 2).ToArray();
        }

        var paths = new List<string> { $"output: {Output.Kernel.Path}" };
        var factory = Options.MoeBlockFactory ?? ((f, l) => MoeBlocks.CreateCpu(f, l, Pool, Options.MaxBatch));
        Layers = new LayerWeights[c.Layers];
        for (int i = 0; i < c.Layers; i++)
        {
            ct.ThrowIfCancellationRequested();
            var layer = LayerWeights.Load(File, c, i);
            layer.Moe = factory(File, i) ?? throw new InvalidOperationException($"the MoE block factory returned null for layer {i}");
            Layers[i] = layer;
            if (layer.Moe.Hidden != c.Hidden)
            {
                throw new InvalidOperationException($"layer {i}: the MoE block's hidden size {layer.Moe.Hidden} is not the model's {c.Hidden}");
            }

            if (i == 0)
            {
                paths.Add($"attn_q: {layer.Wq.Kernel.Path}");
                paths.Add($"attn_output: {layer.Wo.Kernel.Path}");
                paths.AddRange(layer.Moe.KernelPaths.Select(k => $"moe[{layer.Moe.Backend}] {k}"));
            }
        }

        KernelPaths = paths;
    }

    /// <summary>Starts a sequence with a KV cache of <paramref name="contextLength"/> tokens.</summary>
    public IInferenceSession CreateSession(int contextLength) => CreateMoeSession(contextLength);

    /// <summary>Like <see cref="CreateSession"/>, typed to expose the KV cache size.</summary>
    public MoeSession CreateMoeSession(int contextLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (contextLength < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "the context must hold at least one token");
        }

        var s = new MoeSession(this, contextLength);
        lock (_sessions)
        {
            _sessions.Add(s);
        }

        return s;
    }

    /// <summary>Bytes a KV cache of <paramref name="contextLength"/> tokens takes with this model's options.</summary>
    public long KvCacheBytes(int contextLength) =>
        2L * Config.Layers * contextLength * Config.KvWidth * (Options.KvCacheType == GgmlType.F16 ? 2 : 4);

    internal void Forget(MoeSession s)
    {
        lock (_sessions)
        {
            _sessions.Remove(s);
        }
    }

    /// <summary>Releases the MoE blocks, the worker pool and the lease on the file mapping; open sessions stop working.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        MoeSession[] open;
        lock (_sessions)
        {
            open = _sessions.ToArray();
        }

        foreach (var s in open)
        {
            s.Dispose();
        }

        foreach (var l in Layers)
        {
            l?.Moe?.Dispose();
        }

        Pool.Dispose();
        _lease.Dispose();
    }
}
