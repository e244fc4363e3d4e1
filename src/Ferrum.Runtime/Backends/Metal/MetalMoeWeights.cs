using Ferrum.Quantization;

namespace Ferrum.Backends.Metal;

/// <summary>
/// One expert stack (or a single matrix when <see cref="Experts"/> is 1) in ggml's block layout, viewed in place:
/// row r of expert e starts at <c>Data + e·ExpertStride + r·RowBytes</c>. For a fused gate_up tensor, describe gate
/// and up as two stacks into it (up starting <c>F·RowBytes</c> later, both with stride <c>2F·RowBytes</c>).
/// </summary>
public sealed unsafe class MetalWeightStack
{
    /// <summary>Describes a stack; throws naming the tensor when the shape does not fit the format.</summary>
    public MetalWeightStack(string name, GgmlType type, byte* data, int columns, int rows, int experts, long expertStride = 0)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        if (data == null)
        {
            throw new ArgumentNullException(nameof(data), $"{name}: no data");
        }

        if (!GgmlTypeInfo.TryGet((uint)type, out var info))
        {
            throw new NotSupportedException($"{name}: unknown ggml type {(uint)type}");
        }

        if (columns <= 0 || rows <= 0 || experts <= 0)
        {
            throw new ArgumentException($"{name}: shape [{columns}, {rows}, {experts}] must be positive");
        }

        if (columns % info.BlockSize != 0)
        {
            throw new ArgumentException($"{name}: row length {columns} is not a multiple of the {info.Name} block size {info.BlockSize}");
        }

        Type = type;
        Data = data;
        Columns = columns;
        Rows = rows;
        Experts = experts;
        RowBytes = columns / info.BlockSize * (long)info.TypeSize;
        ExpertStride = expertStride == 0 ? RowBytes * rows : expertStride;
        if (ExpertStride < RowBytes * rows)
        {
            throw new ArgumentException($"{name}: expert stride {ExpertStride} is smaller than one expert ({RowBytes * rows} bytes)");
        }
    }

    /// <summary>Tensor name (for errors).</summary>
    public string Name { get; }

    /// <summary>Weight format.</summary>
    public GgmlType Type { get; }

    /// <summary>Expert 0, row 0.</summary>
    public byte* Data { get; }

    /// <summary>Elements per row (ne[0]).</summary>
    public int Columns { get; }

    /// <summary>Rows per expert (ne[1]).</summary>
    public int Rows { get; }

    /// <summary>Experts (ne[2]).</summary>
    public int Experts { get; }

    /// <summary>Bytes of one row.</summary>
    public long RowBytes { get; }

    /// <summary>Bytes from one expert to the next.</summary>
    public long ExpertStride { get; }

    /// <summary>Bytes from <see cref="Data"/> to the end of the last row of the last expert.</summary>
    public long SpanBytes => ((Experts - 1) * ExpertStride) + (Rows * RowBytes);
}

/// <summary>The tensors of one MoE block for the Metal executor.</summary>
public sealed unsafe class MetalMoeWeights
{
    /// <summary>Router [hidden, experts] F32 (ffn_gate_inp): one row of <c>hidden</c> floats per expert.</summary>
    public required MetalWeightStack Router { get; init; }

    /// <summary>Gate stack [hidden, ffn, experts].</summary>
    public required MetalWeightStack Gate { get; init; }

    /// <summary>Up stack [hidden, ffn, experts].</summary>
    public required MetalWeightStack Up { get; init; }

    /// <summary>Down stack [ffn, hidden, experts].</summary>
    public required MetalWeightStack Down { get; init; }

    /// <summary>Router bias [experts] F32 added to the logits (gpt-oss), or null.</summary>
    public float* RouterBias { get; init; }

    /// <summary>Selection bias [experts] F32 added for the top-k choice only (exp_probs_b), or null.</summary>
    public float* SelectionBias { get; init; }

    /// <summary>
    /// True when every pointer lies in a page-granular allocation (a file mapping): the weights are then wrapped
    /// without copying. False copies them into Metal buffers once.
    /// </summary>
    public bool PageMapped { get; init; }

    /// <summary>Hidden size.</summary>
    public int Hidden => Gate.Columns;

    /// <summary>Expert FFN size.</summary>
    public int ExpertFfn => Gate.Rows;

    /// <summary>Routed experts.</summary>
    public int Experts => Gate.Experts;

    /// <summary>Checks that every shape agrees and the Metal kernels cover it; throws naming the tensor that does not.</summary>
    public void Validate()
    {
        int h = Hidden, f = ExpertFfn, e = Experts;
        Check(Router, h, e, 1);
        Check(Up, h, f, e);
        Check(Down, f, h, e);
        if (Router.Type != GgmlType.F32)
        {
            throw new NotSupportedException($"{Router.Name}: the Metal router kernel reads F32, not {GgmlTypeInfo.Get(Router.Type).Name}");
        }

        if (Gate.Type != Up.Type || Gate.ExpertStride != Up.ExpertStride)
        {
            throw new ArgumentException($"{Gate.Name} and {Up.Name} must share a weight type and an expert stride");
        }

        foreach (var m in new[] { Gate, Down })
        {
            var multiple = Math.Max(GgmlTypeInfo.Get(m.Type).BlockSize, MetalMoePlan.Tile);
            if (m.Columns % multiple != 0 || m.Rows % MetalMoePlan.Tile != 0)
            {
                throw new NotSupportedException($"{m.Name}: the Metal kernels need row lengths that are multiples of {multiple} and row counts that are multiples of {MetalMoePlan.Tile} (got [{m.Columns}, {m.Rows}])");
            }
        }
    }

    private static void Check(MetalWeightStack m, int columns, int rows, int experts)
    {
        if (m.Columns != columns || m.Rows != rows || m.Experts != experts)
        {
            throw new ArgumentException($"{m.Name}: shape [{m.Columns}, {m.Rows}, {m.Experts}] does not match the expected [{columns}, {rows}, {experts}]");
        }
    }
}

/// <summary>How tokens are routed and the gated activation (the subset the Metal kernels implement).</summary>
public sealed record MetalMoeRouting
{
    /// <summary>Experts per token (top-k), at most <see cref="MetalMoePlan.MaxTopK"/>.</summary>
    public required int ExpertsPerToken { get; init; }

    /// <summary>1 softmax, 2 sigmoid, 3 softmax over the selected logits (llama.cpp's gating function ids).</summary>
    public int Gating { get; init; } = 1;

    /// <summary>Renormalize the selected weights (sum clamped to 6.103515625e-5).</summary>
    public bool NormalizeWeights { get; init; }

    /// <summary>Weight scale; applied when not 0 and not 1.</summary>
    public float WeightScale { get; init; }

    /// <summary>gpt-oss clamped swiglu instead of SiLU(gate)·up.</summary>
    public bool OaiActivation { get; init; }
}
