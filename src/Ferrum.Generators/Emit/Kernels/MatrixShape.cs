using System.Globalization;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>A weight matrix shape a GPU program can be specialized for: rows of row-length elements (per expert).</summary>
internal sealed class MatrixShape(int rows, int rowLength)
{
    /// <summary>Output rows per expert (gate/up: expert FFN length; down: hidden size).</summary>
    public int Rows { get; } = rows;

    /// <summary>Elements per row, the reduction length (gate/up: hidden size; down: expert FFN length).</summary>
    public int RowLength { get; } = rowLength;

    /// <summary>Suffix naming the shape in program names, e.g. "768x2048".</summary>
    public string Suffix => string.Format(CultureInfo.InvariantCulture, "{0}x{1}", Rows, RowLength);
}
