using Ferrum.Quantization;

namespace Ferrum.Gguf;

/// <summary>
/// One tensor of a GGUF file as ggml sees it. <see cref="Shape"/> is in GGUF order: ne[0] (the row length, the
/// contiguous dimension) first. <see cref="Offset"/> is relative to the data section.
/// </summary>
public sealed class GgufTensorInfo
{
    private readonly long[] _ne4; // ne padded to 4 dims with 1, as ggml stores it

    internal GgufTensorInfo(int index, string name, GgmlTypeInfo typeInfo, long[] shape, long offset, long byteSize, long elementCount, long infoOffset)
    {
        Index = index;
        Name = name;
        TypeInfo = typeInfo;
        Shape = Array.AsReadOnly(shape);
        Offset = offset;
        ByteSize = byteSize;
        ElementCount = elementCount;
        InfoOffset = infoOffset;
        _ne4 = [1, 1, 1, 1];
        shape.CopyTo(_ne4, 0);
    }

    /// <summary>Position in the file's tensor list.</summary>
    public int Index { get; }

    public string Name { get; }

    public GgmlType Type => TypeInfo.Type;

    public GgmlTypeInfo TypeInfo { get; }

    /// <summary>ne[0..Dimensions), ne[0] first (row length, fastest varying).</summary>
    public IReadOnlyList<long> Shape { get; }

    public int Dimensions => Shape.Count;

    public long ElementCount { get; }

    /// <summary>Offset of the tensor's data relative to the data section (a multiple of the file's alignment).</summary>
    public long Offset { get; internal set; }

    /// <summary>Bytes of data (ggml_nbytes for a contiguous tensor).</summary>
    public long ByteSize { get; }

    /// <summary>Bytes of one ne[0] row.</summary>
    public long RowBytes => _ne4[0] / TypeInfo.BlockSize * TypeInfo.TypeSize;

    /// <summary>Number of ne[0] rows (product of ne[1..]).</summary>
    public long RowCount => _ne4[1] * _ne4[2] * _ne4[3];

    /// <summary>Absolute file offset where this tensor's info record starts.</summary>
    public long InfoOffset { get; }

    /// <summary>ne[dim] for dim in [0,4); 1 past <see cref="Dimensions"/>, as ggml pads shapes.</summary>
    public long Ne(int dim) => dim is >= 0 and < 4 ? _ne4[dim] : throw new ArgumentOutOfRangeException(nameof(dim), "ggml tensors have 4 dimensions");

    /// <summary>nb[dim] as ggml computes it: nb[0]=type size, nb[1]=row bytes, nb[i]=nb[i-1]*ne[i-1].</summary>
    public long Stride(int dim)
    {
        if (dim is < 0 or > 3)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), "ggml tensors have 4 dimensions");
        }

        if (dim == 0)
        {
            return TypeInfo.TypeSize;
        }

        var nb = RowBytes;
        for (var i = 2; i <= dim; i++)
        {
            nb *= _ne4[i - 1];
        }

        return nb;
    }

    /// <summary>"[ne0, ne1, ...]".</summary>
    public string ShapeString => "[" + string.Join(", ", Shape) + "]";

    public override string ToString() => $"{Name} {TypeInfo.Name} {ShapeString} @{Offset} ({ByteSize} B)";
}
