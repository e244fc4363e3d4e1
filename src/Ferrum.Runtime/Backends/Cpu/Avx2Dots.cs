using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// AVX2 block helpers shared by the AVX2 kernels (the 256-element formats in Avx2KQuantDots.cs / Avx2KQuants4.cs,
/// the 32-element formats' decoders in Avx2Block32Decoders.cs): 256-bit vpmaddubsw (u8×s8→s16) and vpmaddwd
/// (→s32), signed weights through the abs/sign trick. The AVX2 kernels are also the AVX-512 machine's path for
/// formats without a 512-bit kernel.
/// </summary>
internal static unsafe partial class Avx2Dots
{
    // Signed 32×int8 dot: |x| · sign(y, x), pairs → s16 → s32 (8 lanes).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotSigned(Vector256<sbyte> x, Vector256<sbyte> y, Vector256<short> weights16)
    {
        var p = Avx2.MultiplyAddAdjacent(Avx2.Abs(x), Avx2.Sign(y, x));
        return Avx2.MultiplyAddAdjacent(p, weights16);
    }

    // 32 nibbles of 16 bytes: low nibbles then high nibbles (the 32-element block order).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Nibbles32(byte* qs)
    {
        var q = Sse2.LoadVector128(qs);
        var v = Vector256.Create(q, Sse2.ShiftRightLogical(q.AsUInt16(), 4).AsByte());
        return v & Vector256.Create((byte)0x0F);
    }

    // Bit j of qh (j = 0..31) → byte j = 0x10 if set.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> HighBits32(uint qh)
    {
        var v = Vector256.Create(qh).AsByte();
        var sel = Avx2.Shuffle(v, Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var bit = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        return Vector256.Equals(sel & bit, bit) & Vector256.Create((byte)0x10);
    }
}
