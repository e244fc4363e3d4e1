using System.Runtime.CompilerServices;

namespace Ferrum.Backends.Cpu;

/// <summary>IEEE half and bfloat16 to float conversions used by the kernels (block scales, F16/BF16 weights).</summary>
internal static class Fp16
{
    /// <summary>
    /// Half bits to float, exact (.NET's Half conversion is a software routine that costs more than a whole
    /// 32-element block dot): exponent and mantissa moved into place and re-biased with integer ops, subnormals
    /// converted from their integer mantissa, Inf/NaN exponent forced to all ones, sign restored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h)
    {
        // Integer re-bias for normal halves, an exact int → float for subnormal ones: no float arithmetic ever sees a
        // denormal operand (a denormal multiply costs a microcode assist on x86, which made K-quant rows whose f16
        // super-block scales are subnormal run 1.5–2.5× slower).
        uint em = (uint)(h & 0x7fff);
        uint e = (uint)(h & 0x7c00);
        uint bits = e == 0x7c00 ? (em << 13) | 0x7f800000u : (em << 13) + (112u << 23);
        float f = e == 0 ? em * (1f / 16777216f) : BitConverter.UInt32BitsToSingle(bits);
        return (h & 0x8000) != 0 ? -f : f;
    }

    // Every half's float value, 256 KiB, allocated once and never freed: a block scale becomes one load (only the
    // few lines of scales a model actually uses stay in cache). The x86 F16C conversion is not exposed by .NET.
    private static readonly unsafe float* Table = BuildTable();

    /// <summary>The half → float table itself (index: the half's bits).</summary>
    internal static unsafe float* HalfTable => Table;

    /// <summary>
    /// Runs the static initializer (builds the table). Kernels compiled after it read the table's address as a
    /// constant; compiled before, they keep a class-initialization check in their loops (see CpuFormatTable).
    /// </summary>
    internal static unsafe void EnsureInitialized() => _ = Table;

    /// <summary>Reads a little-endian half at <paramref name="p"/> (table lookup).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Load(byte* p) => Table[Unsafe.ReadUnaligned<ushort>(p)];

    private static unsafe float* BuildTable()
    {
        var t = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int h = 0; h < 65536; h++)
        {
            t[h] = ToFloat((ushort)h);
        }

        return t;
    }

    /// <summary>Float to half bits, round to nearest even (as F16C / ggml do).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    /// <summary>bfloat16 bits to float (exact: the top 16 bits of a float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BF16ToFloat(ushort b) => BitConverter.Int32BitsToSingle(b << 16);
}
