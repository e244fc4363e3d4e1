using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Sub-block scales of the 256-element formats as vectors for the AVX2 kernels: the scales of a block are widened to
/// 16-bit words once, then each chunk's scale vector is one in-lane vpshufb against a constant mask (as ggml's AVX2
/// vec_dot does), instead of a scalar extract and broadcast per chunk.
/// </summary>
internal static unsafe partial class Avx2Dots
{
    // 12 masks of 32 bytes: Word(i), i < 8, then Pair(j), j < 4 (see below). Allocated once, never freed.
    private static readonly byte* ScaleMasks = BuildScaleMasks();

    /// <summary>vpshufb mask: every 16-bit lane = word <paramref name="i"/> (&lt; 8) of its own 128-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Word(int i) => Avx.LoadVector256(ScaleMasks + 32 * i);

    /// <summary>vpshufb mask: the low 128-bit lane = word 2j of that lane, the high lane = word 2j+1 of that lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Pair(int j) => Avx.LoadVector256(ScaleMasks + 32 * (8 + j));

    /// <summary>The 16-bit scale vector of <paramref name="dup"/> (same 8 words in both lanes) for <paramref name="mask"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Pick(Vector256<short> dup, Vector256<byte> mask) => Avx2.Shuffle(dup.AsByte(), mask).AsInt16();

    /// <summary>Both 128-bit lanes = the low lane of <paramref name="v"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> DupLow(Vector256<short> v) => Avx2.Permute4x64(v.AsInt64(), 0x44).AsInt16();

    /// <summary>Both 128-bit lanes = the high lane of <paramref name="v"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> DupHigh(Vector256<short> v) => Avx2.Permute4x64(v.AsInt64(), 0xEE).AsInt16();

    /// <summary>
    /// Q4_K/Q5_K scales: the 8 six-bit scales as words in both lanes (<paramref name="scales"/>) and the 8 mins each
    /// twice (<paramref name="minPairs"/>, against the 16 bsums of the Q8_K block).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void K4Scales(byte* s, out Vector256<short> scales, out Vector256<short> minPairs)
    {
        KScaleBits.UnpackK4(s, out ulong sc, out ulong m);
        var scm = Vector128.Create(sc, m).AsByte();
        scales = Avx2.ConvertToVector256Int16(Sse2.UnpackLow(scm.AsUInt64(), scm.AsUInt64()).AsByte()).AsInt16();
        minPairs = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(scm, scm)).AsInt16();
    }

    /// <summary>IQ4_XS: the 8 signed six-bit scales (ls − 32) as words in both lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> IQ4XSScales(uint sl, uint sh)
    {
        // Nibble i of sl → byte i; 2-bit field i of sh → bits 4..5 of byte i.
        ulong lo = sl;
        lo = (lo | (lo << 16)) & 0x0000FFFF0000FFFFUL;
        lo = (lo | (lo << 8)) & 0x00FF00FF00FF00FFUL;
        lo = (lo | (lo << 4)) & 0x0F0F0F0F0F0F0F0FUL;
        ulong hi = sh;
        hi = (hi | (hi << 24)) & 0x000000FF000000FFUL;
        hi = (hi | (hi << 12)) & 0x000F000F000F000FUL;
        hi = (hi | (hi << 6)) & 0x0303030303030303UL;
        var b = Vector128.Create(lo | (hi << 4), lo | (hi << 4)).AsByte();
        return Avx2.ConvertToVector256Int16(b).AsInt16() - Vector256.Create((short)32);
    }

    private static byte* BuildScaleMasks()
    {
        var p = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(12 * 32, 32);
        for (int i = 0; i < 8; i++)
        {
            for (int b = 0; b < 32; b += 2)
            {
                p[32 * i + b] = (byte)(2 * i);
                p[32 * i + b + 1] = (byte)(2 * i + 1);
            }
        }

        for (int j = 0; j < 4; j++)
        {
            for (int b = 0; b < 32; b += 2)
            {
                int word = b < 16 ? 2 * j : 2 * j + 1;
                p[32 * (8 + j) + b] = (byte)(2 * word);
                p[32 * (8 + j) + b + 1] = (byte)(2 * word + 1);
            }
        }

        return p;
    }
}
