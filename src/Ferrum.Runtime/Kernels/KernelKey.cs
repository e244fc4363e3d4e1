using Ferrum.Quantization;

namespace Ferrum.Kernels;

/// <summary>
/// What a kernel is specialized for: the weight <see cref="Format"/>, <see cref="Rows"/> rows of
/// <see cref="RowLength"/> elements, and <see cref="Batch"/> tokens. A generic kernel has all three sizes zero.
/// </summary>
/// <param name="Format">Weight format.</param>
/// <param name="Rows">Rows of the weight matrix (outputs per token); 0 for a generic kernel.</param>
/// <param name="RowLength">Elements per row (inputs per token); 0 for a generic kernel.</param>
/// <param name="Batch">Tokens per call; 0 for a generic kernel.</param>
public readonly record struct KernelKey(GgmlType Format, int Rows, int RowLength, int Batch)
{
    /// <summary>The key of the shape-generic kernel of <paramref name="format"/>.</summary>
    public static KernelKey Generic(GgmlType format) => new(format, 0, 0, 0);

    /// <summary>True for a shape-generic kernel.</summary>
    public bool IsGeneric => Rows == 0 && RowLength == 0 && Batch == 0;

    /// <inheritdoc/>
    public override string ToString()
    {
        var name = GgmlTypeInfo.TryGet((uint)Format, out var info) ? info.Name : Format.ToString();
        return IsGeneric ? $"{name}/generic" : $"{name}/{Rows}x{RowLength}/b{Batch}";
    }
}
