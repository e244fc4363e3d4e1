using System.Runtime.InteropServices;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>64-byte aligned native memory, freed on dispose.</summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    public NativeBuffer(long bytes)
    {
        Length = bytes;
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(64, bytes), 64);
        NativeMemory.Clear(Pointer, (nuint)Math.Max(64, bytes));
    }

    public byte* Pointer { get; private set; }

    public long Length { get; }

    public float* Floats => (float*)Pointer;

    public void Dispose()
    {
        if (Pointer != null)
        {
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
        }
    }
}
