using Ferrum.Gguf;

namespace Ferrum.Models;

/// <summary>How RoPE pairs the elements of a head (llama.cpp's llama_model_rope_type).</summary>
public enum RopeKind
{
    /// <summary>Adjacent pairs (x[2i], x[2i+1]): LLAMA_ROPE_TYPE_NORM (llama/Mixtral).</summary>
    Normal,

    /// <summary>Halves (x[i], x[i + n_rot/2]): LLAMA_ROPE_TYPE_NEOX (qwen2moe, qwen3moe, olmoe).</summary>
    Neox,
}

/// <summary>How the query/key RMS norm is applied, when the architecture has one.</summary>
public enum QkNormKind
{
    /// <summary>No QK norm.</summary>
    None,

    /// <summary>Per head, weight of head_dim elements (qwen3moe).</summary>
    PerHead,

    /// <summary>Over the whole projection, weight of heads × head_dim elements (olmoe).</summary>
    WholeProjection,
}

/// <summary>
/// The transformer hyperparameters of a MoE model, read from GGUF metadata the way llama.cpp reads them
/// (llama_model::load_hparams), with the per-architecture facts the forward needs.
/// </summary>
public sealed record MoeModelConfig
{
    /// <summary>Architectures the whole-model forward runs.</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } = ["qwen3moe", "qwen2moe", "olmoe", "llama"];

    /// <summary>general.architecture.</summary>
    public required string Architecture { get; init; }

    /// <summary>{arch}.block_count.</summary>
    public required int Layers { get; init; }

    /// <summary>{arch}.embedding_length.</summary>
    public required int Hidden { get; init; }

    /// <summary>{arch}.attention.head_count.</summary>
    public required int Heads { get; init; }

    /// <summary>{arch}.attention.head_count_kv (default: head_count).</summary>
    public required int KvHeads { get; init; }

    /// <summary>{arch}.attention.key_length = value_length (default: embedding_length / head_count).</summary>
    public required int HeadDim { get; init; }

    /// <summary>Rows of the token embedding (the vocabulary size).</summary>
    public required int VocabSize { get; init; }

    /// <summary>{arch}.context_length: the training context.</summary>
    public required int TrainingContext { get; init; }

    /// <summary>{arch}.attention.layer_norm_rms_epsilon.</summary>
    public required float RmsEpsilon { get; init; }

    /// <summary>Element pairing of RoPE.</summary>
    public required RopeKind Rope { get; init; }

    /// <summary>{arch}.rope.dimension_count (default: head dim): elements of each head that are rotated.</summary>
    public required int RopeDimensions { get; init; }

    /// <summary>{arch}.rope.freq_base (default 10000).</summary>
    public required float RopeFreqBase { get; init; }

    /// <summary>1 / {arch}.rope.scaling.factor for linear and YaRN scaling, else 1.</summary>
    public required float RopeFreqScale { get; init; }

    /// <summary>True for {arch}.rope.scaling.type = yarn.</summary>
    public required bool RopeYarn { get; init; }

    /// <summary>{arch}.rope.scaling.original_context_length (default: context_length), YaRN's n_ctx_orig.</summary>
    public required int RopeOriginalContext { get; init; }

    /// <summary>{arch}.rope.scaling.yarn_beta_fast (default 32).</summary>
    public float YarnBetaFast { get; init; } = 32f;

    /// <summary>{arch}.rope.scaling.yarn_beta_slow (default 1).</summary>
    public float YarnBetaSlow { get; init; } = 1f;

    /// <summary>Softmax scale of attention: {arch}.attention.scale when set (llama), else 1/sqrt(head_dim).</summary>
    public required float AttentionScale { get; init; }

    /// <summary>QK-norm of the architecture.</summary>
    public required QkNormKind QkNorm { get; init; }

    /// <summary>True when the Q/K/V projections carry biases (qwen2moe requires them; llama may have them).</summary>
    public required bool QkvBiasRequired { get; init; }

    /// <summary>Width of the query projection: heads × head_dim.</summary>
    public int QueryWidth => Heads * HeadDim;

    /// <summary>Width of the key and value projections: kv heads × head_dim.</summary>
    public int KvWidth => KvHeads * HeadDim;

    /// <summary>Reads the configuration; <see cref="NotSupportedException"/> naming what is missing for other architectures.</summary>
    public static MoeModelConfig FromFile(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var md = file.Metadata;
        var src = file.Path;
        if (!md.Contains("general.architecture"))
        {
            throw new GgufException($"{src}: general.architecture is missing");
        }

        var arch = md.GetString("general.architecture");
        switch (arch)
        {
            case "deepseek2":
                throw new NotSupportedException($"{src}: deepseek2: multi-head latent attention (MLA) is not supported yet");
            case "gpt-oss":
                throw new NotSupportedException($"{src}: gpt-oss: attention sinks and sliding-window attention are not supported yet");
            case "qwen3moe" or "qwen2moe" or "olmoe" or "llama":
                break;
            default:
                throw new NotSupportedException($"{src}: architecture '{arch}' is not supported by the whole-model forward (supported: {string.Join(", ", SupportedArchitectures)})");
        }

        int Int(string key, int? fallback = null)
        {
            var k = arch + "." + key;
            if (!md.TryGetValue(k, out var v))
            {
                return fallback ?? throw new GgufException($"{src}: required metadata key {k} is missing");
            }

            if (v.IsArray)
            {
                // llama.cpp allows some per-layer arrays; the forward needs them uniform.
                var values = v.RawArray.Cast<object>().Select(Convert.ToInt64).Distinct().ToArray();
                if (values.Length != 1)
                {
                    throw new NotSupportedException($"{src}: {k} differs between layers; per-layer values are not supported");
                }

                return checked((int)values[0]);
            }

            var i = md.GetInt64(k);
            return i is > 0 and <= int.MaxValue ? (int)i : throw new GgufException($"{src}: {k} = {i} must be a positive integer");
        }

        float Float(string key, float? fallback = null)
        {
            var k = arch + "." + key;
            if (!md.Contains(k))
            {
                return fallback ?? throw new GgufException($"{src}: required metadata key {k} is missing");
            }

            var f = md.GetFloat32(k);
            return float.IsFinite(f) ? f : throw new GgufException($"{src}: {k} = {f} is not finite");
        }

        if (arch == "llama" && (!md.Contains("llama.expert_count") || md.GetInt64("llama.expert_count") == 0))
        {
            throw new NotSupportedException($"{src}: llama without experts (llama.expert_count missing or 0): dense llama models are not supported, only Mixtral-style MoE");
        }

        var hidden = Int("embedding_length");
        var layers = Int("block_count");
        var heads = Int("attention.head_count");
        var kvHeads = Int("attention.head_count_kv", heads);
        if (hidden % heads != 0 && !md.Contains(arch + ".attention.key_length"))
        {
            throw new GgufException($"{src}: {arch}.embedding_length {hidden} is not a multiple of head_count {heads} and key_length is missing");
        }

        var headK = Int("attention.key_length", hidden / heads);
        var headV = Int("attention.value_length", hidden / heads);
        if (headK != headV)
        {
            throw new NotSupportedException($"{src}: key_length {headK} != value_length {headV} is not supported");
        }

        if (heads % kvHeads != 0)
        {
            throw new GgufException($"{src}: head_count {heads} is not a multiple of head_count_kv {kvHeads}");
        }

        var ropeDims = Int("rope.dimension_count", headK);
        if (ropeDims > headK || ropeDims % 2 != 0)
        {
            throw new GgufException($"{src}: {arch}.rope.dimension_count {ropeDims} must be even and at most the head size {headK}");
        }

        if (arch != "llama" && ropeDims != headK)
        {
            // llama.cpp asserts n_rot == head dim for these architectures.
            throw new GgufException($"{src}: {arch}.rope.dimension_count {ropeDims} must equal the head size {headK}");
        }

        var ctxTrain = Int("context_length");
        var scalingType = md.Contains(arch + ".rope.scaling.type") ? md.GetString(arch + ".rope.scaling.type") : "none";
        var factor = Float("rope.scaling.factor", 0f);
        if (factor == 0f)
        {
            var linear = Float("rope.scale_linear", 0f);
            if (linear != 0f)
            {
                factor = linear;
                if (scalingType == "none")
                {
                    scalingType = "linear";
                }
            }
        }

        if (scalingType is not ("none" or "linear" or "yarn"))
        {
            throw new NotSupportedException($"{src}: {arch}.rope.scaling.type '{scalingType}' is not supported (none, linear, yarn)");
        }

        if (factor < 0f)
        {
            throw new GgufException($"{src}: {arch}.rope.scaling.factor {factor} is negative");
        }

        var freqScale = scalingType != "none" && factor > 0f ? 1f / factor : 1f;
        if (!file.TryGetTensor("token_embd.weight", out var embd) || embd.Dimensions != 2)
        {
            throw new GgufException($"{src}: tensor 'token_embd.weight' is missing or not 2-D");
        }

        if (embd.Shape[0] != hidden || embd.Shape[1] > int.MaxValue || embd.Shape[1] < 1)
        {
            throw new GgufException($"{src}: tensor 'token_embd.weight' has shape {embd.ShapeString}, expected [{hidden}, vocab]");
        }

        var attnScale = arch == "llama" ? Float("attention.scale", 0f) : 0f;
        return new MoeModelConfig
        {
            Architecture = arch,
            Layers = layers,
            Hidden = hidden,
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headK,
            VocabSize = (int)embd.Shape[1],
            TrainingContext = ctxTrain,
            RmsEpsilon = Float("attention.layer_norm_rms_epsilon"),
            Rope = arch == "llama" ? RopeKind.Normal : RopeKind.Neox,
            RopeDimensions = ropeDims,
            RopeFreqBase = Float("rope.freq_base", 10000f),
            RopeFreqScale = freqScale,
            RopeYarn = scalingType == "yarn",
            RopeOriginalContext = Int("rope.scaling.original_context_length", ctxTrain),
            YarnBetaFast = Float("rope.scaling.yarn_beta_fast", 32f),
            YarnBetaSlow = Float("rope.scaling.yarn_beta_slow", 1f),
            AttentionScale = attnScale != 0f ? attnScale : 1f / MathF.Sqrt(headK),
            QkNorm = arch switch { "qwen3moe" => QkNormKind.PerHead, "olmoe" => QkNormKind.WholeProjection, _ => QkNormKind.None },
            QkvBiasRequired = arch == "qwen2moe",
        };
    }
}
