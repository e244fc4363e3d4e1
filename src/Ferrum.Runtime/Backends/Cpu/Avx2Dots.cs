using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// AVX2 dot products for every quantized format: 256-bit vpmaddubsw (u8×s8→s16) and vpmaddwd (→s32),
/// signed weights through the abs/sign trick, table formats (IQ4_NL, IQ4_XS, MXFP4) through vpshufb. Byte offsets
/// come from the layout constants (Quantization/Formats/BlockOffsets.cs), which the JIT folds like literals.
/// Also the AVX-512 machine's path for formats without a 512-bit kernel.
/// </summary>
internal static unsafe partial class Avx2Dots
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<short> Bcast(ulong bytes, int i) => Vector256.Create((short)((bytes >> (8 * i)) & 0xFF));

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

    public struct Q8_0 : IRowDot
    {
        public static int BlockElements => Q8_0Layout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var ones = Vector256.Create((short)1);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q8_0Layout.BlockBytes, a += Q8_0Layout.BlockBytes)
            {
                var s = DotSigned(Avx.LoadVector256((sbyte*)(w + Q8_0Layout.QsOffset)), Avx.LoadVector256((sbyte*)(a + Q8_0Layout.QsOffset)), ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(Fp16.Load(w + Q8_0Layout.DOffset) * Fp16.Load(a + Q8_0Layout.DOffset)), acc);
            }

            return Vector256.Sum(acc);
        }
    }

    public struct Q4_0 : IRowDot
    {
        public static int BlockElements => Q4_0Layout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var ones = Vector256.Create((short)1);
            var eight = Vector256.Create((sbyte)8);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q4_0Layout.BlockBytes, a += Q8_0Layout.BlockBytes)
            {
                var x = Nibbles32(w + Q4_0Layout.QsOffset).AsSByte() - eight;
                var s = DotSigned(x, Avx.LoadVector256((sbyte*)(a + Q8_0Layout.QsOffset)), ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(Fp16.Load(w + Q4_0Layout.DOffset) * Fp16.Load(a + Q8_0Layout.DOffset)), acc);
            }

            return Vector256.Sum(acc);
        }
    }

    public struct Q5_0 : IRowDot
    {
        public static int BlockElements => Q5_0Layout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var ones = Vector256.Create((short)1);
            var sixteen = Vector256.Create((sbyte)16);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q5_0Layout.BlockBytes, a += Q8_0Layout.BlockBytes)
            {
                var x = (Nibbles32(w + Q5_0Layout.QsOffset) | HighBits32(Unsafe.ReadUnaligned<uint>(w + Q5_0Layout.QhOffset))).AsSByte() - sixteen;
                var s = DotSigned(x, Avx.LoadVector256((sbyte*)(a + Q8_0Layout.QsOffset)), ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(Fp16.Load(w + Q5_0Layout.DOffset) * Fp16.Load(a + Q8_0Layout.DOffset)), acc);
            }

            return Vector256.Sum(acc);
        }
    }

    public struct IQ4NL : IRowDot
    {
        public static int BlockElements => IQ4NLLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var table = Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113, -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
            var ones = Vector256.Create((short)1);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += IQ4NLLayout.BlockBytes, a += Q8_0Layout.BlockBytes)
            {
                var x = Avx2.Shuffle(table, Nibbles32(w + IQ4NLLayout.QsOffset).AsSByte());
                var s = DotSigned(x, Avx.LoadVector256((sbyte*)(a + Q8_0Layout.QsOffset)), ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(Fp16.Load(w + IQ4NLLayout.DOffset) * Fp16.Load(a + Q8_0Layout.DOffset)), acc);
            }

            return Vector256.Sum(acc);
        }
    }

    public struct MXFP4 : IRowDot
    {
        public static int BlockElements => Mxfp4Layout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var table = Vector256.Create((sbyte)0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
            var ones = Vector256.Create((short)1);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Mxfp4Layout.BlockBytes, a += Q8_0Layout.BlockBytes)
            {
                var x = Avx2.Shuffle(table, Nibbles32(w + Mxfp4Layout.QsOffset).AsSByte());
                var s = DotSigned(x, Avx.LoadVector256((sbyte*)(a + Q8_0Layout.QsOffset)), ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(FloatBits.E8M0ToSingleHalf(w[Mxfp4Layout.EOffset]) * Fp16.Load(a + Q8_0Layout.DOffset)), acc);
            }

            return Vector256.Sum(acc);
        }
    }

    public struct Q4_1 : IRowDot
    {
        public static int BlockElements => Q4_1Layout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var ones = Vector256.Create((short)1);
            var acc = Vector256<float>.Zero;
            float accm = 0;
            for (int b = 0; b < blocks; b++, w += Q4_1Layout.BlockBytes, a += Q8_1Layout.BlockBytes)
            {
                var p = Avx2.MultiplyAddAdjacent(Nibbles32(w + Q4_1Layout.QsOffset), Avx.LoadVector256((sbyte*)(a + Q8_1Layout.QsOffset)));
                var s = Avx2.MultiplyAddAdjacent(p, ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(Fp16.Load(w + Q4_1Layout.DOffset) * Fp16.Load(a + Q8_1Layout.DOffset)), acc);
                accm += Fp16.Load(w + Q4_1Layout.MOffset) * Fp16.Load(a + Q8_1Layout.SOffset);
            }

            return Vector256.Sum(acc) + accm;
        }
    }

    public struct Q5_1 : IRowDot
    {
        public static int BlockElements => Q5_1Layout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var ones = Vector256.Create((short)1);
            var acc = Vector256<float>.Zero;
            float accm = 0;
            for (int b = 0; b < blocks; b++, w += Q5_1Layout.BlockBytes, a += Q8_1Layout.BlockBytes)
            {
                var x = Nibbles32(w + Q5_1Layout.QsOffset) | HighBits32(Unsafe.ReadUnaligned<uint>(w + Q5_1Layout.QhOffset));
                var p = Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256((sbyte*)(a + Q8_1Layout.QsOffset)));
                var s = Avx2.MultiplyAddAdjacent(p, ones);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(Fp16.Load(w + Q5_1Layout.DOffset) * Fp16.Load(a + Q8_1Layout.DOffset)), acc);
                accm += Fp16.Load(w + Q5_1Layout.MOffset) * Fp16.Load(a + Q8_1Layout.SOffset);
            }

            return Vector256.Sum(acc) + accm;
        }
    }
}
