using System.Runtime.CompilerServices;

namespace Ferrum.Quantization;

/// <summary>
/// fp16, bf16 and E8M0 conversions with ggml's exact semantics: fp16 via <see cref="Half"/> (round to nearest even,
/// NaN payloads kept and quieted, as ggml's converters do), bf16 as the top half of an fp32 with round-to-nearest-even
/// and quieted NaNs, E8M0 as a power of two.
/// </summary>
public static class FloatBits
{
    /// <summary>fp16 bits to fp32 (exact; NaNs keep their payload and become quiet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>fp32 to fp16 bits, round to nearest even (ggml's GGML_FP32_TO_FP16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToHalf(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>bf16 bits to fp32: the bits become the top half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>fp32 to bf16 bits like ggml: NaN keeps its top bits and is forced quiet, else round to nearest even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBFloat16(float value)
    {
        var u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7fffffffu) > 0x7f800000u)
        {
            return (ushort)((u >> 16) | 64);
        }

        return (ushort)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
    }

    /// <summary>E8M0 exponent byte to half its scale, 2^(e-128), as ggml's GGML_E8M0_TO_FP32_HALF (e &lt; 2 gives subnormals).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float E8M0ToSingleHalf(byte e) =>
        BitConverter.UInt32BitsToSingle(e < 2 ? 0x00200000u << e : (uint)(e - 1) << 23);

    /// <summary>E8M0 exponent byte to its scale, 2^(e-127) (e = 0 is the subnormal 2^-127; 255 is taken as 2^128 = +inf).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float E8M0ToSingle(byte e) =>
        BitConverter.UInt32BitsToSingle(e == 0 ? 0x00400000u : (uint)e << 23);
}
