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
    // Scale masks are constants written at the use sites (an intrinsic with constant operands is a constant even
    // where the inliner's budget is spent; a property wrapping one was left as a call): Vector256.Create((ushort)0x0100)
    // selects word 0 of each lane and + 2 per byte the next word; the pair mask (low lane word 0, high lane word 1)
    // + 4 per byte the next pair. Unrolled code writes each mask as a literal, loops add to a running mask.

    /// <summary>
    /// A block's f16 scale by arithmetic (<see cref="Fp16.ToFloat"/>) rather than <see cref="Fp16.Load"/>'s table: a
    /// kernel compiled before that table's static constructor ran checks for it in every block, and the helper call
    /// on that path makes the register allocator spill every accumulator around the loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(byte* p) => Fp16.ToFloat(Unsafe.ReadUnaligned<ushort>(p));

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
    /// Q4_K/Q5_K scales: the 8 six-bit scales as words in both lanes (<paramref name="scales"/>) and the 8 mins as
    /// words (<paramref name="mins"/>, against the bsums added in pairs, as ggml does).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void K4Scales(byte* s, out Vector256<short> scales, out Vector128<short> mins)
    {
        KScaleBits.UnpackK4(s, out ulong sc, out ulong m);
        scales = Avx2.ConvertToVector256Int16(Vector128.Create(sc, sc).AsByte()).AsInt16();
        mins = Sse41.ConvertToVector128Int16(Vector128.CreateScalarUnsafe(m).AsByte());
    }

    /// <summary>
    /// Q5_K scales: as <see cref="K4Scales"/>, with the 8 mins each twice (<paramref name="minPairs"/>, against the 16
    /// bsums of the Q8_K block: only the integer total of the mins term is used, which any order gives exactly).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void K4ScalesPairs(byte* s, out Vector256<short> scales, out Vector256<short> minPairs)
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
}
