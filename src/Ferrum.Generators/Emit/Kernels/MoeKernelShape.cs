namespace Ferrum.Generators.Emit.Kernels;

/// <summary>Shape constants a GPU program can be specialized for (one model's expert FFN).</summary>
internal sealed class MoeKernelShape(int hidden, int expertFfn, int experts, int topK)
{
    /// <summary>Embedding length H: the gate/up reduction length and the down output rows.</summary>
    public int Hidden { get; } = hidden;

    /// <summary>Expert FFN length F: the gate/up output rows and the down reduction length.</summary>
    public int ExpertFfn { get; } = expertFfn;

    public int Experts { get; } = experts;

    public int TopK { get; } = topK;

    /// <summary>Suffix naming the shape in program names, e.g. "h2048_f768_e128_k8".</summary>
    public string Suffix => $"h{Hidden}_f{ExpertFfn}_e{Experts}_k{TopK}";
}
