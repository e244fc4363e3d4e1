namespace Ferrum.Gguf;

/// <summary>How router logits become expert weights (llama.cpp llama_expert_gating_func_type; stored as u32 in {arch}.expert_gating_func).</summary>
public enum ExpertGatingFunction
{
    /// <summary>No gating given (llama.cpp replaces it with the architecture's default).</summary>
    None = 0,

    /// <summary>Softmax over all experts, then top-k.</summary>
    Softmax = 1,

    /// <summary>Independent sigmoid per expert, then top-k.</summary>
    Sigmoid = 2,

    /// <summary>Top-k on the raw logits, then softmax over the k selected (gpt-oss).</summary>
    SoftmaxWeight = 3,

    /// <summary>sqrt(softplus(logit)) per expert.</summary>
    SqrtSoftplus = 4,
}
