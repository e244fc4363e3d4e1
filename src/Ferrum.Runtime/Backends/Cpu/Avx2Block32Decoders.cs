using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The block decoders of the 32-element formats for <see cref="Avx2Block32Dot{TB}"/>: ggml's block layouts read at
/// the offsets of the layout constants (Quantization/Formats/BlockOffsets.cs), values as ggml's dequantizers define them.
/// </summary>
internal static unsafe class Avx2Block32Decoders
{
    // Bit j of qh (j = 0..31) → byte j = 0xFF if set, 0 otherwise.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> HighMask32(uint qh)
    {
        var v = Vector256.Create(qh).AsByte();
        var sel = Avx2.Shuffle(v, Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var bit = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        return Vector256.Equals(sel & bit, bit);
    }

    /// <summary>q4_0: nibble − 8, f16 scale.</summary>
    public struct Q4_0 : IBlock32
    {
        public static int BlockBytes => Q4_0Layout.BlockBytes;

        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Values(byte* block) => Avx2Dots.Nibbles32(block + Q4_0Layout.QsOffset).AsSByte() - Vector256.Create((sbyte)8);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + Q4_0Layout.DOffset)];

        public static float Min(byte* block, float* f16) => 0;
    }

    /// <summary>q4_1: nibble codes, f16 scale and minimum.</summary>
    public struct Q4_1 : IBlock32
    {
        public static int BlockBytes => Q4_1Layout.BlockBytes;

        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Values(byte* block) => Avx2Dots.Nibbles32(block + Q4_1Layout.QsOffset).AsSByte();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + Q4_1Layout.DOffset)];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Min(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + Q4_1Layout.MOffset)];
    }

    /// <summary>q5_0: (nibble | high bit·16) − 16, f16 scale. The −16 is folded in: with the high bit clear the byte
    /// is nibble | 0xF0 (= nibble − 16 as a signed byte), with it set the nibble itself.</summary>
    public struct Q5_0 : IBlock32
    {
        public static int BlockBytes => Q5_0Layout.BlockBytes;

        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Values(byte* block) =>
            (Avx2Dots.Nibbles32(block + Q5_0Layout.QsOffset) | Avx2.AndNot(HighMask32(Unsafe.ReadUnaligned<uint>(block + Q5_0Layout.QhOffset)), Vector256.Create((byte)0xF0))).AsSByte();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + Q5_0Layout.DOffset)];

        public static float Min(byte* block, float* f16) => 0;
    }

    /// <summary>q5_1: nibble | high bit·16 codes, f16 scale and minimum.</summary>
    public struct Q5_1 : IBlock32
    {
        public static int BlockBytes => Q5_1Layout.BlockBytes;

        public static bool HasMin => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Values(byte* block) =>
            (Avx2Dots.Nibbles32(block + Q5_1Layout.QsOffset) | Avx2Dots.HighBits32(Unsafe.ReadUnaligned<uint>(block + Q5_1Layout.QhOffset))).AsSByte();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + Q5_1Layout.DOffset)];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Min(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + Q5_1Layout.MOffset)];
    }

    /// <summary>q8_0: 32 signed bytes, f16 scale.</summary>
    public struct Q8_0 : IBlock32
    {
        public static int BlockBytes => Q8_0Layout.BlockBytes;

        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Values(byte* block) => Avx.LoadVector256((sbyte*)(block + Q8_0Layout.QsOffset));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + Q8_0Layout.DOffset)];

        public static float Min(byte* block, float* f16) => 0;
    }

    /// <summary>iq4_nl: nibble → ggml's kvalues_iq4nl (vpshufb), f16 scale.</summary>
    public struct IQ4NL : IBlock32
    {
        public static int BlockBytes => IQ4NLLayout.BlockBytes;

        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Values(byte* block) =>
            Avx2.Shuffle(
                Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113, -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113),
                Avx2Dots.Nibbles32(block + IQ4NLLayout.QsOffset).AsSByte());

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block, float* f16) => f16[Unsafe.ReadUnaligned<ushort>(block + IQ4NLLayout.DOffset)];

        public static float Min(byte* block, float* f16) => 0;
    }

    /// <summary>mxfp4: nibble → E2M1 value ×2 (ggml's kvalues_mxfp4, vpshufb), E8M0 scale halved.</summary>
    public struct MXFP4 : IBlock32
    {
        public static int BlockBytes => Mxfp4Layout.BlockBytes;

        public static bool HasMin => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<sbyte> Values(byte* block) =>
            Avx2.Shuffle(
                Vector256.Create((sbyte)0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12),
                Avx2Dots.Nibbles32(block + Mxfp4Layout.QsOffset).AsSByte());

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scale(byte* block, float* f16) => FloatBits.E8M0ToSingleHalf(block[Mxfp4Layout.EOffset]);

        public static float Min(byte* block, float* f16) => 0;
    }
}
