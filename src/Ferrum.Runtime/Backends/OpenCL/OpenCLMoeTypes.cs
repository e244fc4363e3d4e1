using Ferrum.Quantization;

namespace Ferrum.Backends.OpenCL;

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

/// <summary>Tuning of an OpenCL MoE executor (the activation comes from the layer's routing).</summary>
public sealed record OpenCLMoeOptions
{
    /// <summary>Token count from which <see cref="OpenCLMoePath.Auto"/> uses the tiled kernels.</summary>
    public int TiledFromTokens { get; init; } = 16;

    /// <summary>
    /// Work-items per weight row in the mat-vec kernels (a power of two; 1 removes the reduction and its barriers,
    /// which measured slower on pocl than 16).
    /// </summary>
    public int ThreadsPerRow { get; init; } = 16;

    /// <summary>Row blocks (of <see cref="ThreadsPerRow"/> work-items) per work-group in the mat-vec kernels.</summary>
    public int RowsPerGroup { get; init; } = 4;

    /// <summary>
    /// Weight rows each row block computes in the mat-vec kernels (FERRUM_NR): the activation unit a work-item loads
    /// is reused for that many rows. A work-group covers RowsPerBlock × RowsPerGroup rows.
    /// </summary>
    public int RowsPerBlock { get; init; } = 1;

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
