using Ferrum.Quantization;

namespace Ferrum.Backends.OpenCL;

/// <summary>How router logits become expert probabilities (llama.cpp's expert_gating_func values).</summary>
public enum OpenCLGating
{
    /// <summary>Softmax over all experts, then top-k (Qwen, Mixtral, OLMoE, DeepSeek-V2).</summary>
    Softmax = 1,

    /// <summary>Sigmoid per expert, then top-k (DeepSeek-V3).</summary>
    Sigmoid = 2,

    /// <summary>Top-k on the raw logits, then softmax over the k selected (gpt-oss).</summary>
    SoftmaxWeight = 3,
}

/// <summary>Routing of one MoE layer: gating, renormalization, scale and the optional selection bias.</summary>
/// <param name="Gating">Gating function.</param>
/// <param name="NormalizeWeights">Divide the k weights by their sum (clamped to 6.103515625e-5, as ggml does).</param>
/// <param name="WeightsScale">Multiplier of the weights; applied when it is neither 0 nor 1 (ggml's rule).</param>
/// <param name="SelectionBias">Per-expert bias added to the probabilities for selection only (DeepSeek-V3 exp_probs_b); null when absent.</param>
public sealed record OpenCLRouting(OpenCLGating Gating, bool NormalizeWeights, float WeightsScale = 0f, float[]? SelectionBias = null);

/// <summary>
/// A 3-D expert weight tensor as ggml stores it: <paramref name="experts"/> slabs of <paramref name="rows"/> rows of
/// <paramref name="rowLength"/> elements in format <paramref name="type"/>. The memory must stay valid while any layer
/// built from it lives when <paramref name="hostMemoryOutlivesLayer"/> is true (a memory-mapped GGUF file, pinned
/// array): CPU devices then use it in place. Otherwise it is copied when the layer is created.
/// </summary>
public sealed unsafe class OpenCLExpertTensor(GgmlType type, int rowLength, int rows, int experts, void* data, long expertStride, bool hostMemoryOutlivesLayer)
{
    public GgmlType Type { get; } = type;

    /// <summary>Elements per row (ne[0], the reduction length).</summary>
    public int RowLength { get; } = rowLength > 0 ? rowLength : throw new ArgumentOutOfRangeException(nameof(rowLength));

    /// <summary>Rows per expert (ne[1]).</summary>
    public int Rows { get; } = rows > 0 ? rows : throw new ArgumentOutOfRangeException(nameof(rows));

    /// <summary>Experts (ne[2]).</summary>
    public int Experts { get; } = experts > 0 ? experts : throw new ArgumentOutOfRangeException(nameof(experts));

    /// <summary>Bytes from one expert's first row to the next expert's (nb[2]); larger than Rows*RowBytes for a half of a fused gate||up tensor.</summary>
    public long ExpertStride { get; } = expertStride;

    public bool HostMemoryOutlivesLayer { get; } = hostMemoryOutlivesLayer;

    internal void* Data { get; } = data != null ? data : throw new ArgumentNullException(nameof(data));

    /// <summary>Bytes of one row.</summary>
    public long RowBytes => GgmlTypeInfo.Get(Type).RowBytes(RowLength);

    /// <summary>Bytes the kernels may read from <see cref="Data"/>.</summary>
    public long SpanBytes => ((Experts - 1) * ExpertStride) + (Rows * RowBytes);
}

/// <summary>Which expert kernels a forward uses.</summary>
public enum OpenCLMoePath
{
    /// <summary>Mat-vec below <see cref="OpenCLMoeOptions.TiledFromTokens"/> tokens, tiled from there on.</summary>
    Auto,

    /// <summary>Indirect mat-vec over every (token, slot) pair (decode).</summary>
    MatVec,

    /// <summary>Tokens grouped by expert, tile kernels (prefill).</summary>
    Tiled,
}

/// <summary>Tuning of an OpenCL MoE layer.</summary>
public sealed record OpenCLMoeOptions
{
    /// <summary>Token count from which <see cref="OpenCLMoePath.Auto"/> uses the tiled kernels.</summary>
    public int TiledFromTokens { get; init; } = 16;

    /// <summary>gpt-oss's clamped SwiGLU (alpha 1.702, limit 7) instead of SiLU(gate)·up.</summary>
    public bool OaiSwiglu { get; init; }

    /// <summary>
    /// Work-items per weight row in the mat-vec kernels (a power of two; 1 removes the reduction and its barriers,
    /// which measured slower on pocl than 16).
    /// </summary>
    public int ThreadsPerRow { get; init; } = 16;

    /// <summary>Weight rows per work-group in the mat-vec kernels.</summary>
    public int RowsPerGroup { get; init; } = 4;

    /// <summary>The mat-vec geometry (work-items per row, rows per group).</summary>
    public (int ThreadsPerRow, int RowsPerGroup) MatVecGeometry(OpenCLDevice device) => (ThreadsPerRow, RowsPerGroup);

    /// <summary>Rows × tokens of one prefill tile.</summary>
    public int TileRows { get; init; } = 16;

    /// <inheritdoc cref="TileRows"/>
    public int TileTokens { get; init; } = 16;
}

/// <summary>
/// Names of the generated OpenCL programs (the convention of the generator's OpenCL printer; a test checks they
/// agree): "ferrum_moe_{format}" (sizes as arguments) and "ferrum_moe_{format}_{rows}x{rowLength}" (one weight
/// matrix shape baked in: gate/up F×H, down H×F). Every program also holds the routing kernels.
/// </summary>
public static class OpenCLProgramNames
{
    public static string Generic(GgmlType format) => "ferrum_moe_" + GgmlTypeInfo.Get(format).Name;

    public static string Specialized(GgmlType format, int rows, int rowLength) => $"{Generic(format)}_{rows}x{rowLength}";
}

/// <summary>
/// Looks up generated OpenCL program source: the program of <paramref name="format"/> specialized for
/// <paramref name="rows"/> × <paramref name="rowLength"/>, or with both zero the shape-generic one; null when it was
/// not generated.
/// </summary>
public delegate string? OpenCLKernelSources(GgmlType format, int rows, int rowLength);
