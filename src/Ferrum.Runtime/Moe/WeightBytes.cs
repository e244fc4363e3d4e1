namespace Ferrum.Moe;

/// <summary>
/// The bytes of one weight tensor, wherever they live (a GGUF mapping, an array in tests). Implementations check
/// that the memory is still valid on every access (e.g. that the GGUF file is not disposed). Tensors may be larger
/// than 2 GiB: use <see cref="Slice"/> or <see cref="Pointer"/> rather than one span of everything.
/// </summary>
public abstract unsafe class WeightBytes
{
    /// <summary>Bytes in the tensor.</summary>
    public abstract long Length { get; }

    /// <summary>The first byte, for kernels; throws when the owner is gone, and stays valid while it stays open.</summary>
    public abstract byte* Pointer { get; }

    /// <summary>All bytes of the tensor as one span (tensors up to 2 GiB).</summary>
    public ReadOnlySpan<byte> Span => Slice(0, checked((int)Length));

    /// <summary><paramref name="length"/> bytes from <paramref name="offset"/>, bounds-checked against <see cref="Length"/>.</summary>
    public ReadOnlySpan<byte> Slice(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset > Length - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes [{offset}, {offset + length}) are outside the tensor's {Length} bytes");
        }

        return new ReadOnlySpan<byte>(Pointer + offset, length);
    }

    /// <summary>Wraps <paramref name="data"/>, copied into a pinned array so <see cref="Pointer"/> stays valid.</summary>
    public static WeightBytes FromArray(ReadOnlySpan<byte> data) => new PinnedArrayBytes(data);

    /// <summary>
    /// <paramref name="length"/> bytes of caller-owned memory at <paramref name="data"/>, not copied: the memory must stay
    /// valid and unchanged while any view or executor built over it lives.
    /// </summary>
    public static WeightBytes FromPointer(void* data, long length) => new UnmanagedBytes((byte*)data, length);

    private sealed class UnmanagedBytes(byte* data, long length) : WeightBytes
    {
        public override long Length { get; } = length >= 0 ? length : throw new ArgumentOutOfRangeException(nameof(length));

        public override byte* Pointer { get; } = data != null ? data : throw new ArgumentNullException(nameof(data));
    }

    private sealed class PinnedArrayBytes : WeightBytes
    {
        private readonly byte[] data;

        public PinnedArrayBytes(ReadOnlySpan<byte> source)
        {
            data = GC.AllocateUninitializedArray<byte>(source.Length, pinned: true);
            source.CopyTo(data);
        }

        public override long Length => data.Length;

        public override byte* Pointer => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(data));
    }
}
