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

    public struct Q4K : IRowDot
    {
        public static int BlockElements => Q4KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var mask = Vector256.Create((byte)0x0F);
            var acc = Vector256<float>.Zero;
            var accm = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q4KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float dy = *(float*)(a + Q8KLayout.DOffset);
                KScaleBits.UnpackK4(w + Q4KLayout.ScalesOffset, out ulong sc, out ulong m);
                var scm = Vector128.Create(sc, m).AsByte();
                var mdup = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(scm, scm));
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                accm = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, mdup)), Vector256.Create(Fp16.Load(w + Q4KLayout.DMinOffset) * dy), accm);
                byte* qs = w + Q4KLayout.QsOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Vector256<int>.Zero;
                for (int c = 0; c < 4; c++)
                {
                    var q = Avx.LoadVector256(qs + 32 * c);
                    var lo = q & mask;
                    var hi = Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & mask;
                    var pl = Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(y + 64 * c));
                    var ph = Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(y + 64 * c + 32));
                    sumi += Avx2.MultiplyAddAdjacent(pl, Bcast(sc, 2 * c)) + Avx2.MultiplyAddAdjacent(ph, Bcast(sc, 2 * c + 1));
                }

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(Fp16.Load(w + Q4KLayout.DOffset) * dy), acc);
            }

            return Vector256.Sum(acc) - Vector256.Sum(accm);
        }
    }

    public struct Q5K : IRowDot
    {
        public static int BlockElements => Q5KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var mask = Vector256.Create((byte)0x0F);
            var one = Vector256.Create((byte)1);
            var acc = Vector256<float>.Zero;
            var accm = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q5KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float dy = *(float*)(a + Q8KLayout.DOffset);
                KScaleBits.UnpackK4(w + Q5KLayout.ScalesOffset, out ulong sc, out ulong m);
                var scm = Vector128.Create(sc, m).AsByte();
                var mdup = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(scm, scm));
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                accm = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, mdup)), Vector256.Create(Fp16.Load(w + Q5KLayout.DMinOffset) * dy), accm);
                var qh = Avx.LoadVector256(w + Q5KLayout.QhOffset);
                byte* qs = w + Q5KLayout.QsOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Vector256<int>.Zero;
                for (int c = 0; c < 4; c++)
                {
                    var q = Avx.LoadVector256(qs + 32 * c);
                    var hl = Avx2.ShiftLeftLogical(((qh.AsUInt16() >>> (2 * c)).AsByte() & one).AsUInt16(), 4);
                    var hh = Avx2.ShiftLeftLogical(((qh.AsUInt16() >>> (2 * c + 1)).AsByte() & one).AsUInt16(), 4);
                    var lo = (q & mask) | hl.AsByte();
                    var hi = (Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & mask) | hh.AsByte();
                    var pl = Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(y + 64 * c));
                    var ph = Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(y + 64 * c + 32));
                    sumi += Avx2.MultiplyAddAdjacent(pl, Bcast(sc, 2 * c)) + Avx2.MultiplyAddAdjacent(ph, Bcast(sc, 2 * c + 1));
                }

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(Fp16.Load(w + Q5KLayout.DOffset) * dy), acc);
            }

            return Vector256.Sum(acc) - Vector256.Sum(accm);
        }
    }

    public struct Q6K : IRowDot
    {
        public static int BlockElements => Q6KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m3 = Vector256.Create((byte)0x03);
            var acc = Vector256<float>.Zero;
            var accb = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q6KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float d = Fp16.Load(w + Q6KLayout.DOffset) * *(float*)(a + Q8KLayout.DOffset);
                var sc16 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(w + Q6KLayout.ScalesOffset)));
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                accb = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, sc16)), Vector256.Create(d * 32f), accb);
                sbyte* sc = (sbyte*)(w + Q6KLayout.ScalesOffset);
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Vector256<int>.Zero;
                for (int h = 0; h < 2; h++)
                {
                    byte* ql = w + Q6KLayout.QlOffset + 64 * h;
                    var qh = Avx.LoadVector256(w + Q6KLayout.QhOffset + 32 * h).AsUInt16();
                    var l0 = Avx.LoadVector256(ql);
                    var l1 = Avx.LoadVector256(ql + 32);
                    var q0 = (l0 & m4) | Avx2.ShiftLeftLogical((qh.AsByte() & m3).AsUInt16(), 4).AsByte();
                    var q1 = (l1 & m4) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(qh, 2).AsByte() & m3).AsUInt16(), 4).AsByte();
                    var q2 = (Avx2.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & m4) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(qh, 4).AsByte() & m3).AsUInt16(), 4).AsByte();
                    var q3 = (Avx2.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & m4) | Avx2.ShiftLeftLogical((Avx2.ShiftRightLogical(qh, 6).AsByte() & m3).AsUInt16(), 4).AsByte();
                    sbyte* yy = y + 128 * h;
                    sbyte* s = sc + 8 * h;
                    sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256(yy)), Scale2(s[0], s[1]));
                    sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256(yy + 32)), Scale2(s[2], s[3]));
                    sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256(yy + 64)), Scale2(s[4], s[5]));
                    sumi += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256(yy + 96)), Scale2(s[6], s[7]));
                }

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            }

            return Vector256.Sum(acc) - Vector256.Sum(accb);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<short> Scale2(sbyte a, sbyte b) => Vector256.Create(Vector128.Create((short)a), Vector128.Create((short)b));
    }

    public struct Q2K : IRowDot
    {
        public static int BlockElements => Q2KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m3 = Vector256.Create((byte)3);
            var acc = Vector256<float>.Zero;
            var accm = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q2KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float dy = *(float*)(a + Q8KLayout.DOffset);
                var scb = Sse2.LoadVector128(w + Q2KLayout.ScalesOffset);
                var mins = Avx2.ConvertToVector256Int16(Sse2.ShiftRightLogical(scb.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F));
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                accm = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, mins)), Vector256.Create(Fp16.Load(w + Q2KLayout.DMinOffset) * dy), accm);
                byte* qs = w + Q2KLayout.QsOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Vector256<int>.Zero;
                for (int h = 0; h < 2; h++)
                {
                    var q = Avx.LoadVector256(qs + 32 * h).AsUInt16();
                    for (int j = 0; j < 4; j++)
                    {
                        var qj = (q >>> (2 * j)).AsByte() & m3;
                        var p = Avx2.MultiplyAddAdjacent(qj, Avx.LoadVector256(y + 128 * h + 32 * j));
                        int i = 8 * h + 2 * j;
                        sumi += Avx2.MultiplyAddAdjacent(p, Vector256.Create(Vector128.Create((short)(w[Q2KLayout.ScalesOffset + i] & 0xF)), Vector128.Create((short)(w[Q2KLayout.ScalesOffset + i + 1] & 0xF))));
                    }
                }

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(Fp16.Load(w + Q2KLayout.DOffset) * dy), acc);
            }

            return Vector256.Sum(acc) - Vector256.Sum(accm);
        }
    }

    public struct Q3K : IRowDot
    {
        public static int BlockElements => Q3KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m3 = Vector256.Create((byte)3);
            var one = Vector256.Create((byte)1);
            var acc = Vector256<float>.Zero;
            var accb = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q3KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float d = Fp16.Load(w + Q3KLayout.DOffset) * *(float*)(a + Q8KLayout.DOffset);
                KScaleBits.UnpackQ3(w + Q3KLayout.ScalesOffset, out uint s0, out uint s1, out uint s2, out uint s3);
                var sc8 = Vector128.Create(s0, s1, s2, s3).AsByte();
                var sc16 = Avx2.ConvertToVector256Int16(sc8) - Vector256.Create((short)32);
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                accb = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, sc16)), Vector256.Create(d * 4f), accb);
                ulong scLo = s0 | ((ulong)s1 << 32), scHi = s2 | ((ulong)s3 << 32);
                var hm = Avx.LoadVector256(w + Q3KLayout.HMaskOffset).AsUInt16();
                byte* qs = w + Q3KLayout.QsOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Vector256<int>.Zero;
                for (int h = 0; h < 2; h++)
                {
                    var q = Avx.LoadVector256(qs + 32 * h).AsUInt16();
                    ulong scw = h == 0 ? scLo : scHi;
                    for (int j = 0; j < 4; j++)
                    {
                        var hb = (hm >>> (4 * h + j)).AsByte() & one;
                        var qj = ((q >>> (2 * j)).AsByte() & m3) | Avx2.ShiftLeftLogical(hb.AsUInt16(), 2).AsByte();
                        var p = Avx2.MultiplyAddAdjacent(qj, Avx.LoadVector256(y + 128 * h + 32 * j));
                        var s = Vector256.Create(Vector128.Create((short)(((scw >> (16 * j)) & 0xFF) - 32)), Vector128.Create((short)(((scw >> (16 * j + 8)) & 0xFF) - 32)));
                        sumi += Avx2.MultiplyAddAdjacent(p, s);
                    }
                }

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            }

            return Vector256.Sum(acc) - Vector256.Sum(accb);
        }
    }

    public struct IQ4XS : IRowDot
    {
        public static int BlockElements => IQ4XSLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var table = Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113, -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += IQ4XSLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float d = Fp16.Load(w + IQ4XSLayout.DOffset) * *(float*)(a + Q8KLayout.DOffset);
                uint sh = *(ushort*)(w + IQ4XSLayout.ScalesHOffset);
                uint sl = *(uint*)(w + IQ4XSLayout.ScalesLOffset);
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Vector256<int>.Zero;
                for (int ib = 0; ib < 8; ib++)
                {
                    int ls = (int)(((sl >> (4 * ib)) & 0xF) | (((sh >> (2 * ib)) & 3) << 4)) - 32;
                    var x = Avx2.Shuffle(table, Nibbles32(w + IQ4XSLayout.QsOffset + 16 * ib).AsSByte());
                    sumi += DotSigned(x, Avx.LoadVector256(y + 32 * ib), Vector256.Create((short)ls));
                }

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            }

            return Vector256.Sum(acc);
        }
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
