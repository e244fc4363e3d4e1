using System.Runtime.CompilerServices;

namespace Ferrum.Backends.Cpu;

/// <summary>IEEE half and bfloat16 to float conversions used by the kernels (block scales, F16/BF16 weights).</summary>
internal static class Fp16
{
    /// <summary>
    /// Half bits to float, exact and branch-free (.NET's Half conversion is a software routine that costs more than
    /// a whole 32-element block dot): exponent and mantissa moved into place, re-biased by a multiply with 2^112
    /// (which also normalizes subnormals), Inf/NaN exponent forced to all ones, sign restored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h)
    {
        uint em = (uint)(h & 0x7fff) << 13;
        uint bits = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(em) * 5.192296858534828e33f);
        bits |= (h & 0x7c00) == 0x7c00 ? 0x7f800000u : 0u;
        return BitConverter.UInt32BitsToSingle(bits | ((uint)(h & 0x8000) << 16));
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
