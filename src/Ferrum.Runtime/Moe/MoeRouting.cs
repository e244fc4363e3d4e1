namespace Ferrum.Moe;

/// <summary>How router logits become expert probabilities (llama.cpp's expert_gating_func; the values are the GGUF ids).</summary>
public enum MoeGating
{
    /// <summary>Softmax over all experts, then top-K of the probabilities (qwen2moe, qwen3moe, olmoe, Mixtral, DeepSeek-V2).</summary>
    Softmax = 1,

    /// <summary>Independent sigmoid per expert, then top-K (DeepSeek-V3/R1).</summary>
    Sigmoid = 2,

    /// <summary>Top-K on the raw logits, then softmax over the K selected (gpt-oss).</summary>
    SoftmaxOverSelected = 3,

    /// <summary>sqrt(softplus(logit)) per expert (a newer llama.cpp gating id); read from metadata, run by no backend yet.</summary>
    SqrtSoftplus = 4,
}

/// <summary>The expert FFN's activation.</summary>
public enum MoeActivation
{
    /// <summary>silu(gate)·up.</summary>
    SiluGlu = 0,

    /// <summary>gpt-oss swiglu_oai: x = min(gate, 7), y = clamp(up, -7, 7), x·sigmoid(1.702x)·(y+1).</summary>
    SwigluOai = 1,
}

/// <summary>
/// Routing and combination settings of one MoE block, as llama.cpp's build_moe_ffn applies them:
/// probabilities from <see cref="Gating"/>, top-K selection (on probabilities plus an optional selection bias),
/// optional renormalization <c>w /= max(Σw, 2^-14)</c>, optional scale.
/// </summary>
public sealed record MoeRouting
{
    /// <summary>Smallest divisor of the renormalization (ggml clamps the weight sum at 6.103515625e-5 = 2^-14).</summary>
    public const float MinWeightSum = 6.103515625e-5f;

    /// <summary>Number of routed experts.</summary>
    public required int ExpertCount { get; init; }

    /// <summary>Experts used per token (K).</summary>
    public required int ExpertsPerToken { get; init; }

    /// <summary>How logits become probabilities.</summary>
    public MoeGating Gating { get; init; } = MoeGating.Softmax;

    /// <summary>Divide the K selected weights by their sum.</summary>
    public bool NormalizeWeights { get; init; }

    /// <summary>Multiply the weights by this factor; 0 and 1 mean no scaling (as in llama.cpp).</summary>
    public float WeightScale { get; init; }

    /// <summary>DeepSeek group-limited routing: number of expert groups (0 or 1 = off).</summary>
    public int ExpertGroupCount { get; init; }

    /// <summary>DeepSeek group-limited routing: groups kept per token.</summary>
    public int ExpertGroupsUsed { get; init; }

    /// <summary>The expert activation.</summary>
    public MoeActivation Activation { get; init; } = MoeActivation.SiluGlu;

    /// <summary>swiglu_oai's alpha (gpt-oss: 1.702).</summary>
    public float OaiAlpha { get; init; } = 1.702f;

    /// <summary>swiglu_oai's clamp limit (gpt-oss: 7).</summary>
    public float OaiLimit { get; init; } = 7f;

    /// <summary>Architectures whose MoE blocks Ferrum runs (general.architecture values); Mixtral files say "llama".</summary>
    public static IReadOnlyList<string> Architectures { get; } = ["qwen3moe", "qwen2moe", "olmoe", "llama", "deepseek2", "gpt-oss"];

    /// <summary>
    /// The one table of per-architecture routing rules, as llama.cpp hard-codes them in its graph builders: how logits
    /// become weights, whether the K weights are renormalized, and the expert activation. Metadata (deepseek2's
    /// expert_gating_func, expert_weights_norm) overrides the first two where the architecture reads it.
    /// </summary>
    public static (MoeGating Gating, bool Normalize, MoeActivation Activation) Defaults(string architecture) => architecture switch
    {
        "qwen3moe" or "llama" or "mixtral" => (MoeGating.Softmax, true, MoeActivation.SiluGlu),
        "qwen2moe" or "olmoe" or "deepseek2" => (MoeGating.Softmax, false, MoeActivation.SiluGlu),
        "gpt-oss" => (MoeGating.SoftmaxOverSelected, false, MoeActivation.SwigluOai),
        _ => throw new NotSupportedException($"MoE architecture '{architecture}' is not supported ({string.Join(", ", Architectures)} are)"),
    };

    /// <summary>Routing of an architecture from its metadata values (<see cref="Defaults"/> for what the metadata leaves out); validated.</summary>
    /// <param name="architecture">general.architecture, e.g. "qwen3moe".</param>
    /// <param name="expertCount">{arch}.expert_count.</param>
    /// <param name="expertsPerToken">{arch}.expert_used_count.</param>
    /// <param name="gatingFunction">{arch}.expert_gating_func when present (1 softmax, 2 sigmoid, 3 softmax over selected).</param>
    /// <param name="weightsNorm">{arch}.expert_weights_norm when present (deepseek2).</param>
    /// <param name="weightsScale">{arch}.expert_weights_scale when present (deepseek2).</param>
    /// <param name="groupCount">{arch}.expert_group_count when present.</param>
    /// <param name="groupsUsed">{arch}.expert_group_used_count when present.</param>
    public static MoeRouting ForArchitecture(string architecture, int expertCount, int expertsPerToken, uint? gatingFunction = null,
        bool? weightsNorm = null, float? weightsScale = null, int groupCount = 0, int groupsUsed = 0)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        var d = Defaults(architecture);
        var gating = gatingFunction switch
        {
            null or 0 => d.Gating,
            >= 1 and <= 4 => (MoeGating)gatingFunction.Value,
            var g => throw new ArgumentException($"{architecture}: expert_gating_func {g} is not a known gating function (1..4)"),
        };
        var r = new MoeRouting
        {
            ExpertCount = expertCount,
            ExpertsPerToken = expertsPerToken,
            Gating = gating,
            NormalizeWeights = architecture == "deepseek2" ? weightsNorm ?? d.Normalize : d.Normalize,
            WeightScale = weightsScale ?? 0f,
            ExpertGroupCount = groupCount,
            ExpertGroupsUsed = groupsUsed,
            Activation = d.Activation,
        };
        r.Validate(architecture);
        return r;
    }

    /// <summary>The routing of a GGUF model's MoE blocks: its hyperparameters already carry the architecture's rules.</summary>
    public static MoeRouting FromHyperParameters(Gguf.MoeHyperParameters hp)
    {
        ArgumentNullException.ThrowIfNull(hp);
        var r = new MoeRouting
        {
            ExpertCount = hp.ExpertCount,
            ExpertsPerToken = hp.ExpertUsedCount,
            Gating = hp.GatingFunction,
            NormalizeWeights = hp.ExpertWeightsNorm,
            WeightScale = hp.ExpertWeightsScale,
            ExpertGroupCount = hp.ExpertGroupCount,
            ExpertGroupsUsed = hp.ExpertGroupUsedCount,
            Activation = Defaults(hp.Architecture).Activation,
        };
        r.Validate(hp.Architecture);
        return r;
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the setting when the routing cannot run: K outside 1..experts,
    /// groups that do not divide the experts or keep fewer experts than K, a non-finite or negative scale, an unknown
    /// gating or activation.
    /// </summary>
    public void Validate(string? source = null)
    {
        var at = source == null ? "MoE routing" : $"{source}: MoE routing";
        if (ExpertCount < 1 || ExpertCount > 65536)
        {
            throw new ArgumentException($"{at}: expert count {ExpertCount} must be in 1..65536");
        }

        if (ExpertsPerToken < 1 || ExpertsPerToken > ExpertCount)
        {
            throw new ArgumentException($"{at}: experts per token (expert_used_count) {ExpertsPerToken} must be in 1..{ExpertCount} (the expert count)");
        }

        if (!Enum.IsDefined(Gating) || !Enum.IsDefined(Activation))
        {
            throw new ArgumentException($"{at}: unknown gating {(int)Gating} or activation {(int)Activation}");
        }

        if (!float.IsFinite(WeightScale) || WeightScale < 0)
        {
            throw new ArgumentException($"{at}: expert weights scale {WeightScale} must be finite and non-negative");
        }

        if (!float.IsFinite(OaiAlpha) || !float.IsFinite(OaiLimit) || OaiLimit <= 0)
        {
            throw new ArgumentException($"{at}: swiglu_oai alpha {OaiAlpha} / limit {OaiLimit} must be finite, limit positive");
        }

        if (ExpertGroupCount < 0 || ExpertGroupsUsed < 0)
        {
            throw new ArgumentException($"{at}: expert group count {ExpertGroupCount} and groups used {ExpertGroupsUsed} must not be negative");
        }

        if (ExpertGroupCount > 1)
        {
            if (ExpertCount % ExpertGroupCount != 0)
            {
                throw new ArgumentException($"{at}: expert group count {ExpertGroupCount} does not divide the expert count {ExpertCount}");
            }

            if (ExpertGroupsUsed < 1 || ExpertGroupsUsed > ExpertGroupCount)
            {
                throw new ArgumentException($"{at}: expert groups used {ExpertGroupsUsed} must be in 1..{ExpertGroupCount} (the group count)");
            }

            if ((long)ExpertGroupsUsed * (ExpertCount / ExpertGroupCount) < ExpertsPerToken)
            {
                throw new ArgumentException($"{at}: {ExpertGroupsUsed} groups of {ExpertCount / ExpertGroupCount} experts hold fewer than the {ExpertsPerToken} experts per token");
            }
        }
    }
}
