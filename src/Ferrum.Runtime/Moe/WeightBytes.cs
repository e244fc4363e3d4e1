namespace Ferrum.Moe;

/// <summary>
/// The bytes of one weight tensor, wherever they live (a GGUF mapping, an array in tests). Implementations check
/// that the memory is still valid on every access (e.g. that the GGUF file is not disposed).
/// </summary>
public abstract unsafe class WeightBytes
{
    /// <summary>Bytes in the tensor.</summary>
    public abstract long Length { get; }

    /// <summary>All bytes of the tensor.</summary>
    public abstract ReadOnlySpan<byte> Span { get; }

    /// <summary>The first byte, for kernels; valid while the owner (e.g. the GGUF file) stays open.</summary>
    public abstract byte* Pointer { get; }

    /// <summary>Wraps <paramref name="data"/>, copied into a pinned array so <see cref="Pointer"/> stays valid.</summary>
    public static WeightBytes FromArray(ReadOnlySpan<byte> data) => new PinnedArrayBytes(data);

    private sealed class PinnedArrayBytes : WeightBytes
    {
        private readonly byte[] data;

        public PinnedArrayBytes(ReadOnlySpan<byte> source)
        {
            data = GC.AllocateUninitializedArray<byte>(source.Length, pinned: true);
            source.CopyTo(data);
        }

        public override long Length => data.Length;

        public override ReadOnlySpan<byte> Span => data;

        public override byte* Pointer => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(data));
    }
}
