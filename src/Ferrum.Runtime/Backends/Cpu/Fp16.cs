using System.Runtime.CompilerServices;

namespace Ferrum.Backends.Cpu;

/// <summary>IEEE half and bfloat16 to float conversions used by the kernels (block scales, F16/BF16 weights).</summary>
internal static class Fp16
{
    /// <summary>Half bits to float (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    /// <summary>Reads a little-endian half at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Load(byte* p) => (float)BitConverter.UInt16BitsToHalf(Unsafe.ReadUnaligned<ushort>(p));

    /// <summary>Float to half bits, round to nearest even (as F16C / ggml do).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    /// <summary>bfloat16 bits to float (exact: the top 16 bits of a float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BF16ToFloat(ushort b) => BitConverter.Int32BitsToSingle(b << 16);
}
