namespace Ferrum.Moe;

/// <summary>
/// The tensors of one MoE block: router, routed expert stacks (gate, up, down), optional biases (gpt-oss),
/// selection bias (DeepSeek-V3 exp_probs_b) and optional shared expert (qwen2moe, DeepSeek). Pointers view the
/// caller's memory (usually the GGUF mapping); float vectors are F32.
/// </summary>
public sealed unsafe class MoeLayerWeights
{
    /// <summary>Router [hidden, experts] (ffn_gate_inp); one row per expert.</summary>
    public required MoeMatrix Router { get; init; }

    /// <summary>Router bias [experts] (gpt-oss ffn_gate_inp.bias) or null.</summary>
    public float* RouterBias { get; init; }

    /// <summary>Selection bias [experts] (exp_probs_b.bias) added for the top-K choice only, or null.</summary>
    public float* SelectionBias { get; init; }

    /// <summary>Gate stack [hidden, ffn, experts].</summary>
    public required MoeMatrix Gate { get; init; }

    /// <summary>Up stack [hidden, ffn, experts].</summary>
    public required MoeMatrix Up { get; init; }

    /// <summary>Down stack [ffn, hidden, experts].</summary>
    public required MoeMatrix Down { get; init; }

    /// <summary>Gate bias [ffn, experts] or null.</summary>
    public float* GateBias { get; init; }

    /// <summary>Up bias [ffn, experts] or null.</summary>
    public float* UpBias { get; init; }

    /// <summary>Down bias [hidden, experts] or null.</summary>
    public float* DownBias { get; init; }

    /// <summary>Shared expert gate [hidden, shared ffn] or null.</summary>
    public MoeMatrix? SharedGate { get; init; }

    /// <summary>Shared expert up [hidden, shared ffn] or null.</summary>
    public MoeMatrix? SharedUp { get; init; }

    /// <summary>Shared expert down [shared ffn, hidden] or null.</summary>
    public MoeMatrix? SharedDown { get; init; }

    /// <summary>qwen2moe's shared-expert gate [hidden] (ffn_gate_inp_shexp): shared output × sigmoid(this · x); null = weight 1.</summary>
    public MoeMatrix? SharedGateInput { get; init; }

    /// <summary>Hidden size (n_embd).</summary>
    public int Hidden => Router.Columns;

    /// <summary>Routed expert FFN size.</summary>
    public int ExpertFfn => Gate.Rows;

    /// <summary>True when a shared expert is present.</summary>
    public bool HasSharedExpert => SharedGate != null;

    /// <summary>Checks that every shape agrees; throws naming the tensor that does not.</summary>
    public void Validate(MoeRouting routing)
    {
        ArgumentNullException.ThrowIfNull(routing);
        int h = Hidden, f = ExpertFfn, e = routing.ExpertCount;
        Check(Router, h, e, 1);
        Check(Gate, h, f, e);
        Check(Up, h, f, e);
        Check(Down, f, h, e);
        if (Gate.Type != Up.Type)
        {
            throw new ArgumentException($"{Gate.Name} ({Gate.Info.Name}) and {Up.Name} ({Up.Info.Name}) must share a weight type");
        }

        if ((SharedGate == null) != (SharedUp == null) || (SharedGate == null) != (SharedDown == null))
        {
            throw new ArgumentException("shared expert: gate, up and down must all be present or all absent");
        }

        if (SharedGate != null)
        {
            int fs = SharedGate.Rows;
            Check(SharedGate, h, fs, 1);
            Check(SharedUp!, h, fs, 1);
            Check(SharedDown!, fs, h, 1);
        }

        if (SharedGateInput != null)
        {
            Check(SharedGateInput, h, 1, 1);
        }
    }

    private static void Check(MoeMatrix m, int columns, int rows, int experts)
    {
        if (m.Columns != columns || m.Rows != rows || m.Experts != experts)
        {
            throw new ArgumentException($"{m.Name}: shape [{m.Columns}, {m.Rows}, {m.Experts}] does not match the expected [{columns}, {rows}, {experts}]");
        }
    }
}
