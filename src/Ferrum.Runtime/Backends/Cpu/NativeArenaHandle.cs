using System.Runtime.InteropServices;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Owns one 64-byte aligned block of native memory (a CPU executor's scratch arena): freed by <see cref="SafeHandle.Dispose()"/>,
/// or by the finalizer when the owner is dropped without being disposed.
/// </summary>
public sealed unsafe class NativeArenaHandle : SafeHandle
{
    /// <summary>
    /// Allocates <paramref name="bytes"/> zeroed bytes, 64-byte aligned; with <paramref name="hugePages"/>, 2 MiB
    /// aligned and advised for transparent huge pages before the first touch (weights copied into memory).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">bytes not positive.</exception>
    /// <exception cref="OutOfMemoryException">the allocation failed (the message says how much was asked for).</exception>
    public NativeArenaHandle(long bytes, bool hugePages = false)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        void* p;
        try
        {
            p = NativeMemory.AlignedAlloc((nuint)bytes, hugePages ? (nuint)HugePages.Size : 64);
            if (hugePages)
            {
                HugePages.Advise(p, bytes);
            }
        }
        catch (OutOfMemoryException e)
        {
            throw new OutOfMemoryException($"could not allocate {bytes:N0} bytes of MoE scratch memory (lower MaxTokens)", e);
        }

        NativeMemory.Clear(p, (nuint)bytes);
        SetHandle((IntPtr)p);
        Bytes = bytes;
    }

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>The memory; valid until the handle is released.</summary>
    public byte* Pointer => (byte*)handle;

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
