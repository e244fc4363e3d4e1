namespace Ferrum.Moe;

/// <summary>How router logits become expert probabilities (llama.cpp's expert_gating_func).</summary>
public enum MoeGating
{
    /// <summary>Softmax over all experts, then top-K of the probabilities (qwen2moe, qwen3moe, olmoe, Mixtral, DeepSeek-V2).</summary>
    Softmax = 1,

    /// <summary>Independent sigmoid per expert, then top-K (DeepSeek-V3/R1).</summary>
    Sigmoid = 2,

    /// <summary>Top-K on the raw logits, then softmax over the K selected (gpt-oss).</summary>
    SoftmaxOverSelected = 3,
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

    /// <summary>Routing of a GGUF architecture, with settings llama.cpp hard-codes per architecture.</summary>
    /// <param name="architecture">general.architecture, e.g. "qwen3moe".</param>
    /// <param name="expertCount">{arch}.expert_count.</param>
    /// <param name="expertsPerToken">{arch}.expert_used_count.</param>
    /// <param name="gatingFunction">{arch}.expert_gating_func when present (1 softmax, 2 sigmoid, 3 softmax over selected).</param>
    /// <param name="weightsNorm">{arch}.expert_weights_norm when present (DeepSeek2).</param>
    /// <param name="weightsScale">{arch}.expert_weights_scale when present (DeepSeek2).</param>
    /// <param name="groupCount">{arch}.expert_group_count when present.</param>
    /// <param name="groupsUsed">{arch}.expert_group_used_count when present.</param>
    public static MoeRouting ForArchitecture(string architecture, int expertCount, int expertsPerToken, uint? gatingFunction = null,
        bool? weightsNorm = null, float? weightsScale = null, int groupCount = 0, int groupsUsed = 0)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        if (expertCount <= 0 || expertsPerToken <= 0 || expertsPerToken > expertCount)
        {
            throw new ArgumentException($"{architecture}: expert_used_count {expertsPerToken} must be in 1..expert_count ({expertCount})");
        }

        var r = new MoeRouting { ExpertCount = expertCount, ExpertsPerToken = expertsPerToken };
        return architecture switch
        {
            "qwen3moe" or "llama" or "mixtral" => r with { NormalizeWeights = true },
            "qwen2moe" or "olmoe" => r,
            "deepseek2" => r with
            {
                Gating = gatingFunction switch
                {
                    null or 1 => MoeGating.Softmax,
                    2 => MoeGating.Sigmoid,
                    var g => throw new NotSupportedException($"deepseek2: expert_gating_func {g} is not supported"),
                },
                NormalizeWeights = weightsNorm ?? false,
                WeightScale = weightsScale ?? 0f,
                ExpertGroupCount = groupCount,
                ExpertGroupsUsed = groupsUsed,
            },
            "gpt-oss" => r with { Gating = MoeGating.SoftmaxOverSelected, Activation = MoeActivation.SwigluOai },
            _ => throw new NotSupportedException($"MoE architecture '{architecture}' is not supported (qwen3moe, qwen2moe, olmoe, llama, deepseek2, gpt-oss are)"),
        };
    }
}
