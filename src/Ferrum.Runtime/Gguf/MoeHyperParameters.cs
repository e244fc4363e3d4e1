namespace Ferrum.Gguf;

/// <summary>
/// The Mixture-of-Experts hyperparameters of a model, read the way llama.cpp reads them for each supported
/// architecture (qwen3moe, qwen2moe, olmoe, llama/Mixtral, deepseek2, gpt-oss), with that architecture's default
/// when a key is absent.
/// </summary>
public sealed record MoeHyperParameters
{
    /// <summary>Architectures this view understands (general.architecture values).</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } = ["qwen3moe", "qwen2moe", "olmoe", "llama", "deepseek2", "gpt-oss"];

    public required string Architecture { get; init; }

    /// <summary>{arch}.expert_count: routed experts per MoE layer.</summary>
    public required int ExpertCount { get; init; }

    /// <summary>{arch}.expert_used_count: experts selected per token (top-k).</summary>
    public required int ExpertUsedCount { get; init; }

    /// <summary>Hidden size of one routed expert (rows of its gate/up matrices).</summary>
    public required int ExpertFeedForwardLength { get; init; }

    /// <summary>{arch}.embedding_length: model width (row length of gate/up, rows of down).</summary>
    public required int EmbeddingLength { get; init; }

    /// <summary>{arch}.block_count: number of layers.</summary>
    public required int BlockCount { get; init; }

    /// <summary>{arch}.feed_forward_length of the dense FFN (first element when stored per layer); 0 when absent.</summary>
    public required int FeedForwardLength { get; init; }

    /// <summary>Hidden size of the shared expert FFN (all shared experts fused, as llama.cpp creates the tensors); 0 without shared experts.</summary>
    public required int SharedExpertFeedForwardLength { get; init; }

    /// <summary>Number of shared experts applied to every token; 0 when none.</summary>
    public required int SharedExpertCount { get; init; }

    /// <summary>True when the shared expert's output is scaled by sigmoid(ffn_gate_inp_shexp · x) (qwen2moe).</summary>
    public required bool SharedExpertGated { get; init; }

    /// <summary>Whether the top-k weights are renormalized to sum to 1.</summary>
    public required bool ExpertWeightsNorm { get; init; }

    /// <summary>Factor applied to the top-k weights; 0 (or 1) means no scaling, as in llama.cpp.</summary>
    public required float ExpertWeightsScale { get; init; }

    /// <summary>How router logits become expert weights ({arch}.expert_gating_func, or the architecture's rule).</summary>
    public required Moe.MoeGating GatingFunction { get; init; }

    /// <summary>Leading layers with a dense FFN instead of experts (deepseek2); 0 otherwise.</summary>
    public required int LeadingDenseBlockCount { get; init; }

    /// <summary>Expert groups for group-limited routing (deepseek2 expert_group_count); 0 when not used.</summary>
    public required int ExpertGroupCount { get; init; }

    /// <summary>Groups selected per token (deepseek2 expert_group_used_count); 0 when not used.</summary>
    public required int ExpertGroupUsedCount { get; init; }

    /// <summary>True when layer <paramref name="layer"/> has routed experts.</summary>
    public bool IsMoeLayer(int layer) => layer >= LeadingDenseBlockCount && layer < BlockCount;

    /// <summary>Reads the view from an open file.</summary>
    public static MoeHyperParameters FromFile(GgufFile file) => FromMetadata(file.Metadata, file.Path);

    /// <summary>Reads the view from metadata; <see cref="GgufException"/> for a non-MoE or unsupported model.</summary>
    public static MoeHyperParameters FromMetadata(GgufMetadata metadata, string source)
    {
        if (!metadata.TryGetValue("general.architecture", out var archValue))
        {
            throw new GgufException($"{source}: general.architecture is missing; cannot read MoE hyperparameters");
        }

        var arch = metadata.GetString("general.architecture");
        var r = new Reader(metadata, source, arch);
        if (!metadata.Contains(arch + ".expert_count") || r.Int("expert_count") == 0)
        {
            throw new GgufException($"{source}: not a Mixture-of-Experts model ({arch}.expert_count is {(metadata.Contains(arch + ".expert_count") ? "0" : "missing")})");
        }

        if (!SupportedArchitectures.Contains(arch))
        {
            throw new GgufException($"{source}: MoE architecture '{arch}' is not supported (supported: {string.Join(", ", SupportedArchitectures)})");
        }

        _ = archValue;
        var nExpert = r.Int("expert_count");
        var nUsed = r.Int("expert_used_count");
        if (nUsed <= 0 || nUsed > nExpert)
        {
            throw new GgufException($"{source}: {arch}.expert_used_count {nUsed} must be in [1, {arch}.expert_count = {nExpert}]");
        }

        var nEmbd = r.Int("embedding_length");
        var nLayer = r.Int("block_count");
        var nFf = r.PerLayerOrScalar("feed_forward_length") ?? 0;

        // Expert FFN width: qwen2moe/qwen3moe fall back to n_ff / n_expert_used, the others to n_ff (llama.cpp load_tensors).
        int ExpertFfOr(int fallback, string fallbackText) => r.OptionalInt("expert_feed_forward_length")
            ?? (fallback > 0 ? fallback : throw new GgufException($"{source}: {arch}.expert_feed_forward_length is missing and {fallbackText} is not available"));

        var p = arch switch
        {
            "qwen3moe" => Make(ExpertFfOr(nFf / nUsed, "feed_forward_length / expert_used_count")),
            "olmoe" => Make(ExpertFfOr(nFf, "feed_forward_length")),
            "llama" => Make(ExpertFfOr(nFf, "feed_forward_length")),
            "gpt-oss" => Make(ExpertFfOr(nFf, "feed_forward_length")),
            "qwen2moe" => Make(ExpertFfOr(nFf / nUsed, "feed_forward_length / expert_used_count")) with
            {
                SharedExpertCount = 1,
                SharedExpertGated = true,
                SharedExpertFeedForwardLength = r.OptionalInt("expert_shared_feed_forward_length") ?? nFf,
            },
            _ => DeepSeek2(),
        };
        return p;

        // Gating and renormalization follow the architecture's rule (Moe.MoeRouting.Defaults), unless deepseek2's metadata says otherwise.
        MoeHyperParameters Make(int nFfExp) => new()
        {
            Architecture = arch,
            ExpertCount = nExpert,
            ExpertUsedCount = nUsed,
            ExpertFeedForwardLength = nFfExp,
            EmbeddingLength = nEmbd,
            BlockCount = nLayer,
            FeedForwardLength = nFf,
            SharedExpertFeedForwardLength = 0,
            SharedExpertCount = 0,
            SharedExpertGated = false,
            ExpertWeightsNorm = Moe.MoeRouting.Defaults(arch).Normalize,
            ExpertWeightsScale = 0f,
            GatingFunction = Moe.MoeRouting.Defaults(arch).Gating,
            LeadingDenseBlockCount = 0,
            ExpertGroupCount = 0,
            ExpertGroupUsedCount = 0,
        };

        MoeHyperParameters DeepSeek2()
        {
            var nFfExp = r.Int("expert_feed_forward_length");
            var nShared = r.Int("expert_shared_count");
            var gatingId = r.OptionalInt("expert_gating_func") ?? 0;
            if (gatingId is < 0 or > 4)
            {
                throw new GgufException($"{source}: {arch}.expert_gating_func {gatingId} is not a known gating function (0..4)");
            }

            var gating = gatingId == 0 ? Moe.MoeGating.Softmax : (Moe.MoeGating)gatingId;
            var lead = r.OptionalInt("leading_dense_block_count") ?? 0;
            if (lead > nLayer)
            {
                throw new GgufException($"{source}: {arch}.leading_dense_block_count {lead} exceeds block_count {nLayer}");
            }

            return Make(nFfExp) with
            {
                GatingFunction = gating,
                ExpertWeightsNorm = r.OptionalBool("expert_weights_norm") ?? false,
                SharedExpertCount = nShared,
                SharedExpertFeedForwardLength = (long)nFfExp * nShared <= int.MaxValue
                    ? nFfExp * nShared
                    : throw new GgufException($"{source}: shared expert width {nFfExp} × {nShared} overflows"),
                ExpertWeightsScale = r.OptionalFloat("expert_weights_scale") ?? 0f,
                LeadingDenseBlockCount = lead,
                ExpertGroupCount = r.OptionalInt("expert_group_count") ?? 0,
                ExpertGroupUsedCount = r.OptionalInt("expert_group_used_count") ?? 0,
            };
        }
    }

    public override string ToString() =>
        $"{Architecture}: {ExpertCount} experts, top-{ExpertUsedCount}, expert FFN {ExpertFeedForwardLength}, embd {EmbeddingLength}, " +
        $"{BlockCount} blocks ({LeadingDenseBlockCount} dense), shared {SharedExpertCount}×{SharedExpertFeedForwardLength}, " +
        $"gating {GatingFunction}, norm {ExpertWeightsNorm}, scale {ExpertWeightsScale}";

    /// <summary>Reads "{arch}.name" keys with clear errors.</summary>
    private readonly struct Reader(GgufMetadata md, string source, string arch)
    {
        public int Int(string name)
        {
            if (!md.Contains(Key(name)))
            {
                throw new GgufException($"{source}: required MoE key {Key(name)} is missing");
            }

            var v = md.GetInt32(Key(name));
            return v >= 0 ? v : throw new GgufException($"{source}: {Key(name)} is negative ({v})");
        }

        public int? OptionalInt(string name) => md.Contains(Key(name)) ? Int(name) : null;

        public bool? OptionalBool(string name) => md.Contains(Key(name)) ? md.GetBool(Key(name)) : null;

        public float? OptionalFloat(string name) => md.Contains(Key(name)) ? md.GetFloat32(Key(name)) : null;

        /// <summary>A key llama.cpp reads with get_key_or_arr: a scalar, or one integer per layer (the first is returned).</summary>
        public int? PerLayerOrScalar(string name)
        {
            if (!md.TryGetValue(Key(name), out var v))
            {
                return null;
            }

            if (!v.IsArray)
            {
                return Int(name);
            }

            if (v.Count == 0)
            {
                return null;
            }

            var first = v.RawArray.GetValue(0);
            return first switch
            {
                int i when i >= 0 => i,
                uint u when u <= int.MaxValue => (int)u,
                _ => throw new GgufException($"{source}: {Key(name)} is an array of {v.ElementType.ShortName()}, expected u32 or i32 per layer"),
            };
        }

        private string Key(string name) => arch + "." + name;
    }
}
