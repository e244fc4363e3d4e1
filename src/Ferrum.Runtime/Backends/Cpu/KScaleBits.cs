using System.Runtime.CompilerServices;

namespace Ferrum.Backends.Cpu;

/// <summary>Word-wide unpacking of the K-quant 6-bit scales for the SIMD kernels (all scales of a block at once).</summary>
internal static unsafe class KScaleBits
{
    /// <summary>Unpacks Q4_K/Q5_K's 12 scale bytes to 8 six-bit scales (bytes of sc) and 8 mins (bytes of m).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnpackK4(byte* s, out ulong sc, out ulong m)
    {
        uint s0 = Unsafe.ReadUnaligned<uint>(s), s1 = Unsafe.ReadUnaligned<uint>(s + 4), s2 = Unsafe.ReadUnaligned<uint>(s + 8);
        uint scLo = s0 & 0x3f3f3f3f;
        uint scHi = (s2 & 0x0f0f0f0f) | (((s0 >> 6) & 0x03030303) << 4);
        uint mLo = s1 & 0x3f3f3f3f;
        uint mHi = ((s2 >> 4) & 0x0f0f0f0f) | (((s1 >> 6) & 0x03030303) << 4);
        sc = scLo | ((ulong)scHi << 32);
        m = mLo | ((ulong)mHi << 32);
    }

    /// <summary>Unpacks Q3_K's 12 scale bytes to 16 six-bit scales (unsigned, still biased by 32) as 4 words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnpackQ3(byte* s, out uint w0, out uint w1, out uint w2, out uint w3)
    {
        uint a0 = Unsafe.ReadUnaligned<uint>(s), a1 = Unsafe.ReadUnaligned<uint>(s + 4), t = Unsafe.ReadUnaligned<uint>(s + 8);
        w0 = (a0 & 0x0f0f0f0f) | ((t & 0x03030303) << 4);
        w1 = (a1 & 0x0f0f0f0f) | (((t >> 2) & 0x03030303) << 4);
        w2 = ((a0 >> 4) & 0x0f0f0f0f) | (((t >> 4) & 0x03030303) << 4);
        w3 = ((a1 >> 4) & 0x0f0f0f0f) | (((t >> 6) & 0x03030303) << 4);
    }
}
