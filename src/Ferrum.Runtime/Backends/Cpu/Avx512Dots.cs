using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// AVX-512BW dot products for the hot formats (the Qwen3 Q4_K_M pair Q4_K/Q6_K; Q8_0 measured faster with the
/// 256-bit kernel, one block per vector, so it stays AVX2). 512-bit
/// vpmaddubsw (u8×s8→s16) then vpmaddwd against the sub-block scales (s16×s16→s32), per-lane integer sums per
/// super-block, one float FMA per super-block, one horizontal sum per row. ggml's byte layout is read as is, at the
/// offsets of the layout constants (Quantization/Formats/BlockOffsets.cs).
/// </summary>
internal static unsafe class Avx512Dots
{
    // Both 256-bit halves = the 32 bytes at p. (One load and one vinserti64x4; the JIT's two-insert form of
    // Vector512.Create(v, v) costs an extra op, and folding vbroadcasti64x4 into the shift gave wrong results.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ushort> Dup(byte* p)
    {
        var v = Avx.LoadVector256((ushort*)p);
        return Avx512F.InsertVector256(v.ToVector512Unsafe(), v, 1);
    }

    // Lanes 0..15 (the low 256 bits) select scale 2c, lanes 16..31 scale 2c+1: one chunk of 64 elements = 2 sub-blocks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> PairIndex(int first) =>
        Vector512.Create(Vector256.Create((short)first), Vector256.Create((short)(first + 1)));

    // Lanes 8g..8g+7 select scale first+g: 64 elements = 4 sub-blocks of 16.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> QuadIndex(int first) =>
        Vector512.Create(
            Vector256.Create(Vector128.Create((short)first), Vector128.Create((short)(first + 1))),
            Vector256.Create(Vector128.Create((short)(first + 2)), Vector128.Create((short)(first + 3))));

    public struct Q4K : IRowDot4
    {
        public static int BlockElements => Q4KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var mask = Vector512.Create((byte)0x0F);
            var shift = Vector512.Create(Vector256<ushort>.Zero, Vector256.Create((ushort)4));
            Vector512<short> i0 = PairIndex(0), i1 = PairIndex(2), i2 = PairIndex(4), i3 = PairIndex(6);
            var acc = Vector512<float>.Zero;
            var accm = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q4KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float dy = *(float*)(a + Q8KLayout.DOffset);
                KScaleBits.UnpackK4(w + Q4KLayout.ScalesOffset, out ulong sc, out ulong m);
                var scm = Vector128.Create(sc, m).AsByte();
                var sc16 = Avx2.ConvertToVector256Int16(scm);                 // 8 scales, 8 mins (zero-extended)
                var mdup = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(scm, scm)); // each min twice
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                accm = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, mdup)), Vector256.Create(Fp16.Load(w + Q4KLayout.DMinOffset) * dy), accm);

                var sc512 = Avx512BW.ConvertToVector512Int16(scm.ToVector256Unsafe()); // lanes 0..7 scales (permute reads 0..7 only)
                byte* qs = w + Q4KLayout.QsOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Chunk(qs, y, sc512, i0, shift, mask);
                sumi += Chunk(qs + 32, y + 64, sc512, i1, shift, mask);
                sumi += Chunk(qs + 64, y + 128, sc512, i2, shift, mask);
                sumi += Chunk(qs + 96, y + 192, sc512, i3, shift, mask);
                acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sumi), Vector512.Create(Fp16.Load(w + Q4KLayout.DOffset) * dy), acc);
            }

            return Vector512.Sum(acc) - Vector256.Sum(accm);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var mask = Vector512.Create((byte)0x0F);
            var shift = Vector512.Create(Vector256<ushort>.Zero, Vector256.Create((ushort)4));
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
            Vector256<float> m0 = default, m1 = default, m2 = default, m3 = default;
            for (int b = 0; b < blocks; b++, w += Q4KLayout.BlockBytes)
            {
                KScaleBits.UnpackK4(w + Q4KLayout.ScalesOffset, out ulong sc, out ulong m);
                var scm = Vector128.Create(sc, m).AsByte();
                var sc16 = Avx2.ConvertToVector256Int16(scm);
                var mdup = Avx2.ConvertToVector256Int16(Sse2.UnpackHigh(scm, scm));
                var sc512 = Avx512BW.ConvertToVector512Int16(scm.ToVector256Unsafe()); // lanes 0..7 scales (permute reads 0..7 only)
                float d = Fp16.Load(w + Q4KLayout.DOffset), dmin = Fp16.Load(w + Q4KLayout.DMinOffset);
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                m0 = MinTerm(y0, mdup, dmin, m0);
                m1 = MinTerm(y1, mdup, dmin, m1);
                m2 = MinTerm(y2, mdup, dmin, m2);
                m3 = MinTerm(y3, mdup, dmin, m3);
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int c = 0; c < 4; c++)
                {
                    var q2 = Avx512BW.ShiftRightLogicalVariable(Dup(w + Q4KLayout.QsOffset + 32 * c), shift).AsByte() & mask;
                    var scv = Avx512BW.PermuteVar32x16(sc512, PairIndex(2 * c));
                    int o = Q8KLayout.QsOffset + 64 * c;
                    s0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Avx512F.LoadVector512((sbyte*)(y0 + o))), scv);
                    s1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Avx512F.LoadVector512((sbyte*)(y1 + o))), scv);
                    s2 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Avx512F.LoadVector512((sbyte*)(y2 + o))), scv);
                    s3 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Avx512F.LoadVector512((sbyte*)(y3 + o))), scv);
                }

                f0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s0), Vector512.Create(d * *(float*)(y0 + Q8KLayout.DOffset)), f0);
                f1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s1), Vector512.Create(d * *(float*)(y1 + Q8KLayout.DOffset)), f1);
                f2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s2), Vector512.Create(d * *(float*)(y2 + Q8KLayout.DOffset)), f2);
                f3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s3), Vector512.Create(d * *(float*)(y3 + Q8KLayout.DOffset)), f3);
            }

            r[0] = Vector512.Sum(f0) - Vector256.Sum(m0);
            r[1] = Vector512.Sum(f1) - Vector256.Sum(m1);
            r[2] = Vector512.Sum(f2) - Vector256.Sum(m2);
            r[3] = Vector512.Sum(f3) - Vector256.Sum(m3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> MinTerm(byte* y, Vector256<short> mdup, float dmin, Vector256<float> acc)
        {
            var bs = Avx.LoadVector256((short*)(y + Q8KLayout.BSumsOffset));
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, mdup)), Vector256.Create(dmin * *(float*)(y + Q8KLayout.DOffset)), acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> Chunk(byte* qs, sbyte* y, Vector512<short> sc, Vector512<short> idx, Vector512<ushort> shift, Vector512<byte> mask)
        {
            var q2 = Avx512BW.ShiftRightLogicalVariable(Dup(qs), shift).AsByte() & mask;
            var p = Avx512BW.MultiplyAddAdjacent(q2, Avx512F.LoadVector512(y));
            return Avx512BW.MultiplyAddAdjacent(p, Avx512BW.PermuteVar32x16(sc, idx));
        }
    }

    public struct Q6K : IRowDot4
    {
        public static int BlockElements => Q6KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m4 = Vector512.Create((byte)0x0F);
            var m30 = Vector512.Create((byte)0x30);
            var sLo = Vector512.Create(Vector256.Create((ushort)4), Vector256.Create((ushort)2));
            Vector512<short> i0 = QuadIndex(0), i1 = QuadIndex(4), i2 = QuadIndex(8), i3 = QuadIndex(12);
            var acc = Vector512<float>.Zero;
            var accb = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q6KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float d = Fp16.Load(w + Q6KLayout.DOffset) * *(float*)(a + Q8KLayout.DOffset);
                var sc8 = Sse2.LoadVector128((sbyte*)(w + Q6KLayout.ScalesOffset));
                var sc16 = Avx2.ConvertToVector256Int16(sc8);
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                accb = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, sc16)), Vector256.Create(d * 32f), accb);
                var sc = Avx512BW.ConvertToVector512Int16(sc8.ToVector256Unsafe()); // lanes 0..15 scales (permute reads 0..15 only)
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Half(w + Q6KLayout.QlOffset, w + Q6KLayout.QhOffset, y, sc, i0, i1, m4, m30, sLo);
                sumi += Half(w + Q6KLayout.QlOffset + 64, w + Q6KLayout.QhOffset + 32, y + 128, sc, i2, i3, m4, m30, sLo);
                acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sumi), Vector512.Create(d), acc);
            }

            return Vector512.Sum(acc) - Vector256.Sum(accb);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var m4 = Vector512.Create((byte)0x0F);
            var m30 = Vector512.Create((byte)0x30);
            var sLo = Vector512.Create(Vector256.Create((ushort)4), Vector256.Create((ushort)2));
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector512<float> f0 = default, f1 = default, f2 = default, f3 = default;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            for (int b = 0; b < blocks; b++, w += Q6KLayout.BlockBytes)
            {
                float d = Fp16.Load(w + Q6KLayout.DOffset);
                var sc8 = Sse2.LoadVector128((sbyte*)(w + Q6KLayout.ScalesOffset));
                var sc16 = Avx2.ConvertToVector256Int16(sc8);
                var sc = Avx512BW.ConvertToVector512Int16(sc8.ToVector256Unsafe()); // lanes 0..15 scales (permute reads 0..15 only)
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                b0 = Bias(y0, sc16, d, b0);
                b1 = Bias(y1, sc16, d, b1);
                b2 = Bias(y2, sc16, d, b2);
                b3 = Bias(y3, sc16, d, b3);
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int h = 0; h < 2; h++)
                {
                    var l = Avx512F.LoadVector512(w + Q6KLayout.QlOffset + 64 * h);
                    var hh = Dup(w + Q6KLayout.QhOffset + 32 * h);
                    var qLo = (l & m4) | (Avx512BW.ShiftLeftLogicalVariable(hh, sLo).AsByte() & m30);
                    var qHi = (Avx512BW.ShiftRightLogical(l.AsUInt16(), 4).AsByte() & m4) | (Avx512BW.ShiftLeftLogicalVariable(Avx512BW.ShiftRightLogical(hh, 4), sLo).AsByte() & m30);
                    var iA = Avx512BW.PermuteVar32x16(sc, QuadIndex(8 * h));
                    var iB = Avx512BW.PermuteVar32x16(sc, QuadIndex(8 * h + 4));
                    int o = Q8KLayout.QsOffset + 128 * h;
                    s0 += Pair(qLo, qHi, y0 + o, iA, iB);
                    s1 += Pair(qLo, qHi, y1 + o, iA, iB);
                    s2 += Pair(qLo, qHi, y2 + o, iA, iB);
                    s3 += Pair(qLo, qHi, y3 + o, iA, iB);
                }

                f0 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s0), Vector512.Create(d * *(float*)(y0 + Q8KLayout.DOffset)), f0);
                f1 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s1), Vector512.Create(d * *(float*)(y1 + Q8KLayout.DOffset)), f1);
                f2 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s2), Vector512.Create(d * *(float*)(y2 + Q8KLayout.DOffset)), f2);
                f3 = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(s3), Vector512.Create(d * *(float*)(y3 + Q8KLayout.DOffset)), f3);
            }

            r[0] = Vector512.Sum(f0) - Vector256.Sum(b0);
            r[1] = Vector512.Sum(f1) - Vector256.Sum(b1);
            r[2] = Vector512.Sum(f2) - Vector256.Sum(b2);
            r[3] = Vector512.Sum(f3) - Vector256.Sum(b3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Bias(byte* y, Vector256<short> sc16, float d, Vector256<float> acc)
        {
            var bs = Avx.LoadVector256((short*)(y + Q8KLayout.BSumsOffset));
            return Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(bs, sc16)), Vector256.Create(d * 32f * *(float*)(y + Q8KLayout.DOffset)), acc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> Pair(Vector512<byte> qLo, Vector512<byte> qHi, byte* y, Vector512<short> iA, Vector512<short> iB) =>
            Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(qLo, Avx512F.LoadVector512((sbyte*)y)), iA)
            + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(qHi, Avx512F.LoadVector512((sbyte*)(y + 64))), iB);

        // 128 elements: ql[0..63] low nibbles are elements 0..63, high nibbles 64..127; qh[l] carries bit pairs
        // 0-1 (element l), 2-3 (l+32), 4-5 (l+64), 6-7 (l+96).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<int> Half(byte* ql, byte* qh, sbyte* y, Vector512<short> sc, Vector512<short> iA, Vector512<short> iB,
            Vector512<byte> m4, Vector512<byte> m30, Vector512<ushort> sLo)
        {
            var l = Avx512F.LoadVector512(ql);
            var hh = Dup(qh);
            var hLo = Avx512BW.ShiftLeftLogicalVariable(hh, sLo).AsByte() & m30;
            var hHi = Avx512BW.ShiftLeftLogicalVariable(Avx512BW.ShiftRightLogical(hh, 4), sLo).AsByte() & m30;
            var qLo = (l & m4) | hLo;
            var qHi = (Avx512BW.ShiftRightLogical(l.AsUInt16(), 4).AsByte() & m4) | hHi;
            var pLo = Avx512BW.MultiplyAddAdjacent(qLo, Avx512F.LoadVector512(y));
            var pHi = Avx512BW.MultiplyAddAdjacent(qHi, Avx512F.LoadVector512(y + 64));
            return Avx512BW.MultiplyAddAdjacent(pLo, Avx512BW.PermuteVar32x16(sc, iA))
                 + Avx512BW.MultiplyAddAdjacent(pHi, Avx512BW.PermuteVar32x16(sc, iB));
        }
    }
}
