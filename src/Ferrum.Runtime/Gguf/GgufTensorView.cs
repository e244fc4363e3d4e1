namespace Ferrum.Gguf;

/// <summary>
/// A tensor of an open <see cref="GgufFile"/>. Every member that touches data checks that the file is not disposed
/// (<see cref="ObjectDisposedException"/> otherwise), so a view never reads unmapped memory.
/// </summary>
public sealed class GgufTensorView
{
    internal GgufTensorView(GgufFile file, GgufTensorInfo info)
    {
        File = file;
        Info = info;
    }

    public GgufFile File { get; }

    public GgufTensorInfo Info { get; }

    public string Name => Info.Name;

    /// <summary>All bytes of the tensor (checked for disposal on each access).</summary>
    public ReadOnlySpan<byte> Bytes => File.GetTensorBytes(Info);

    /// <summary>Bytes of row <paramref name="row"/> (ne[0] elements) counting rows over ne[1..3] in order.</summary>
    public ReadOnlySpan<byte> Row(long row)
    {
        if ((ulong)row >= (ulong)Info.RowCount)
        {
            throw new ArgumentOutOfRangeException(nameof(row), $"tensor '{Name}' has {Info.RowCount} rows");
        }

        return Slice(row * Info.RowBytes, Info.RowBytes);
    }

    /// <summary>
    /// The contiguous slab of index <paramref name="index"/> along the last dimension (for a 3-D expert tensor
    /// [K, M, n_expert] that is expert <paramref name="index"/>'s M×K matrix, nb[2] bytes).
    /// </summary>
    public ReadOnlySpan<byte> Slab(long index)
    {
        var last = Info.Dimensions - 1;
        var count = Info.Ne(last);
        if ((ulong)index >= (ulong)count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"tensor '{Name}' has {count} slabs along ne[{last}]");
        }

        var size = Info.Stride(last);
        return Slice(index * size, size);
    }

    /// <summary>Copies the tensor's bytes into <paramref name="destination"/>, holding a lease so a concurrent Dispose cannot unmap mid-copy.</summary>
    public void CopyTo(Span<byte> destination)
    {
        using var lease = File.AcquireLease();
        lease.GetTensorBytes(Info).CopyTo(destination);
    }

    private unsafe ReadOnlySpan<byte> Slice(long start, long length)
    {
        if (length > int.MaxValue)
        {
            throw new GgufException($"a {length}-byte slice of tensor '{Name}' is too large for a span");
        }

        var p = File.GetTensorPointer(Info);
        return new ReadOnlySpan<byte>(p + start, (int)length);
    }

    public override string ToString() => Info.ToString();
}
