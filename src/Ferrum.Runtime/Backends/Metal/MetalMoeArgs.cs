using System.Runtime.InteropServices;

namespace Ferrum.Backends.Metal;

/// <summary>
/// The constant argument block every generated Metal MoE kernel binds at buffer index 0 (<c>ferrum_moe_args</c> in
/// the MSL; 104 bytes on both sides, asserted by the kernel and by a test that compares field order with the MSL).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct MetalMoeArgs
{
    /// <summary>Bytes from one expert to the next in the gate and up stacks.</summary>
    public ulong StrideGateUp;

    /// <summary>Bytes from one expert to the next in the down stack.</summary>
    public ulong StrideDown;

    /// <summary>Unused; keeps the layout.</summary>
    public ulong Reserved0;

    /// <summary>Hidden size.</summary>
    public int H;

    /// <summary>Expert FFN size.</summary>
    public int F;

    /// <summary>Routed experts.</summary>
    public int NExperts;

    /// <summary>Experts per token.</summary>
    public int Topk;

    /// <summary>Tokens in this call.</summary>
    public int NTokens;

    /// <summary>Capacity of each expert's pair list (prefill).</summary>
    public int MaxPerExpert;

    /// <summary>Rows of the weight matrix a launch reads (gate/up: F, down: H); read by shape-generic programs.</summary>
    public int Rows;

    /// <summary>Its row length (gate/up: H, down: F); kernel_moe_dequant: element count.</summary>
    public int K;

    /// <summary>1 softmax, 2 sigmoid, 3 softmax over the selected logits.</summary>
    public int Gating;

    /// <summary>1: renormalize the selected weights.</summary>
    public int Norm;

    /// <summary>Weight scale, applied when not 0 and not 1.</summary>
    public float Scale;

    /// <summary>1: add the router bias to the logits.</summary>
    public int HasRouterBias;

    /// <summary>1: add the selection bias for the top-k choice only.</summary>
    public int HasSelectionBias;

    /// <summary>Expert groups (DeepSeek-V3 n_expert_groups); selection is limited when <see cref="GroupsUsed"/> is smaller.</summary>
    public int NGroups;

    /// <summary>Groups kept by the group-limited selection.</summary>
    public int GroupsUsed;

    /// <summary>1: add the gate and up expert biases before the activation.</summary>
    public int HasExpertBias;

    /// <summary>1: add the down expert bias to each expert's output.</summary>
    public int HasDownBias;

    /// <summary>1: the routing kernel writes sigmoid(shared gate input · x) as the shared expert's weight, else 1.</summary>
    public int HasShexpInp;

    /// <summary>1: the mat-vec down kernel adds onto the output (the shared expert after the routed ones).</summary>
    public int Accumulate;

    /// <summary>Padding to 104 bytes.</summary>
    public int Reserved;
}
