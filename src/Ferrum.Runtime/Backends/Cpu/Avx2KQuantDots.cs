using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// AVX2 single-token dots of the 256-element formats against Q8_K (q2_K..q6_K, iq4_xs). Each super-block's integer
/// sum stays in 8 int32 lanes (vpmaddubsw, then vpmaddwd against the sub-block scale picked by vpshufb from the
/// block's scales widened once), one float FMA per super-block; the mins (q2_K, q4_K, q5_K) and the −32/−4 code
/// offsets (q6_K, q3_K, off the integer sum) are applied once per super-block through the Q8_K bsums. The float steps
/// are ggml's (Avx2GgmlSums.cs), and the two- and four-token kernels take the same steps per token.
/// The chunks are unrolled so that the scale masks are literals. The four-token kernels are in Avx2KQuants4.cs.
/// </summary>
internal static unsafe partial class Avx2Dots
{
    // Four 32-element code vectors (16 elements per scale) times y[0..127], the scales of 16 picked from dup (this
    // half's 8 scales in both lanes) by literal pair masks: low lane word 2j, high lane word 2j+1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Quad(Vector256<byte> c0, Vector256<byte> c1, Vector256<byte> c2, Vector256<byte> c3, sbyte* y, Vector256<short> dup) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(c0, Avx.LoadVector256(y)), Pick(dup, Vector256.Create(0x0100010001000100UL, 0x0100010001000100UL, 0x0302030203020302UL, 0x0302030203020302UL).AsByte()))
        + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(c1, Avx.LoadVector256(y + 32)), Pick(dup, Vector256.Create(0x0504050405040504UL, 0x0504050405040504UL, 0x0706070607060706UL, 0x0706070607060706UL).AsByte()))
        + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(c2, Avx.LoadVector256(y + 64)), Pick(dup, Vector256.Create(0x0908090809080908UL, 0x0908090809080908UL, 0x0B0A0B0A0B0A0B0AUL, 0x0B0A0B0A0B0A0B0AUL).AsByte()))
        + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(c3, Avx.LoadVector256(y + 96)), Pick(dup, Vector256.Create(0x0D0C0D0C0D0C0D0CUL, 0x0D0C0D0C0D0C0D0CUL, 0x0F0E0F0E0F0E0F0EUL, 0x0F0E0F0E0F0E0F0EUL).AsByte()));

    public partial struct Q4K : IRowDot4
    {
        public static int BlockElements => Q4KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m4 = Vector256.Create((byte)0x0F);
            // ggml's float steps: the mins in their own four-lane accumulator, the codes in eight lanes, the two
            // summed at the end; Dot2/Dot4 take the same steps per token, so every path gives a token the same bits.
            var acc = Vector256<float>.Zero;
            var accM = Vector128<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q4KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                K4Scales(w + Q4KLayout.ScalesOffset, out var scales, out var mins);
                accM = MinsTerm(a, mins, -Half(w + Q4KLayout.DMinOffset), accM);
                byte* qs = w + Q4KLayout.QsOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                // Unrolled, the word masks are literals: chunk c takes words 2c and 2c+1 (bytes 4c..4c+3).
                var sumi = Chunk(qs, y, scales, m4, Vector256.Create((ushort)0x0100).AsByte(), Vector256.Create((ushort)0x0302).AsByte());
                sumi += Chunk(qs + 32, y + 64, scales, m4, Vector256.Create((ushort)0x0504).AsByte(), Vector256.Create((ushort)0x0706).AsByte());
                sumi += Chunk(qs + 64, y + 128, scales, m4, Vector256.Create((ushort)0x0908).AsByte(), Vector256.Create((ushort)0x0B0A).AsByte());
                sumi += Chunk(qs + 96, y + 192, scales, m4, Vector256.Create((ushort)0x0D0C).AsByte(), Vector256.Create((ushort)0x0F0E).AsByte());

                acc = Scaled(sumi, Half(w + Q4KLayout.DOffset), a, acc);
            }

            return HSum8(acc) + HSum4(accM);
        }

        // 64 elements: low nibbles of 32 bytes times y[0..31] (scale word picked by wl), high nibbles times y[32..63] (wh).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Chunk(byte* qs, sbyte* y, Vector256<short> scales, Vector256<byte> m4, Vector256<byte> wl, Vector256<byte> wh)
        {
            var q = Avx.LoadVector256(qs);
            var lo = q & m4;
            var hi = Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4;
            return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(y)), Pick(scales, wl))
                 + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(y + 32)), Pick(scales, wh));
        }
    }

    public partial struct Q5K : IRowDot4
    {
        public static int BlockElements => Q5KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m10 = Vector256.Create((byte)0x10);
            // ggml's float steps: the mins summed to one integer per block and added to a scalar, the codes in eight
            // lanes, the two summed at the end; Dot2/Dot4 take the same steps per token.
            var acc = Vector256<float>.Zero;
            float summs = 0;
            for (int b = 0; b < blocks; b++, w += Q5KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                K4Scales(w + Q5KLayout.ScalesOffset, out var scales, out var mins);
                summs = MinsScalar(a, mins, -Half(w + Q5KLayout.DMinOffset), summs);
                var qh = Avx.LoadVector256((ushort*)(w + Q5KLayout.QhOffset));
                byte* qs = w + Q5KLayout.QsOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                // Chunk c takes bit 2c (low nibbles) and 2c+1 (high nibbles) of qh: qh is passed shifted down by 2c.
                var sumi = Chunk5(qs, qh, y, scales, m4, m10, Vector256.Create((ushort)0x0100).AsByte(), Vector256.Create((ushort)0x0302).AsByte());
                sumi += Chunk5(qs + 32, Avx2.ShiftRightLogical(qh, 2), y + 64, scales, m4, m10, Vector256.Create((ushort)0x0504).AsByte(), Vector256.Create((ushort)0x0706).AsByte());
                sumi += Chunk5(qs + 64, Avx2.ShiftRightLogical(qh, 4), y + 128, scales, m4, m10, Vector256.Create((ushort)0x0908).AsByte(), Vector256.Create((ushort)0x0B0A).AsByte());
                sumi += Chunk5(qs + 96, Avx2.ShiftRightLogical(qh, 6), y + 192, scales, m4, m10, Vector256.Create((ushort)0x0D0C).AsByte(), Vector256.Create((ushort)0x0F0E).AsByte());

                acc = Scaled(sumi, Half(w + Q5KLayout.DOffset), a, acc);
            }

            return HSum8(acc) + summs;
        }

        // 64 elements: 4-bit codes as Q4K's chunk plus the fifth bit (bit 0 / bit 1 of each qh byte) as 0x10.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Chunk5(byte* qs, Vector256<ushort> qh, sbyte* y, Vector256<short> scales, Vector256<byte> m4, Vector256<byte> m10, Vector256<byte> wl, Vector256<byte> wh)
        {
            var q = Avx.LoadVector256(qs);
            var lo = (q & m4) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & m10);
            var hi = (Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftLeftLogical(qh, 3).AsByte() & m10);
            return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Avx.LoadVector256(y)), Pick(scales, wl))
                 + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(hi, Avx.LoadVector256(y + 32)), Pick(scales, wh));
        }
    }

    public partial struct Q6K : IRowDot4
    {
        public static int BlockElements => Q6KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m30 = Vector256.Create((byte)0x30);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q6KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float d = Half(w + Q6KLayout.DOffset) * *(float*)(a + Q8KLayout.DOffset);
                var sc16 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(w + Q6KLayout.ScalesOffset)));
                var bs = Avx.LoadVector256((short*)(a + Q8KLayout.BSumsOffset));
                byte* ql = w + Q6KLayout.QlOffset, qh = w + Q6KLayout.QhOffset;
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                // The codes are stored +32: Σ sc·32·bsum comes off the integer sum (exact, as ggml's AVX path).
                var sumi = Half128(ql, qh, y, DupLow(sc16), m4, m30) + Half128(ql + 64, qh + 32, y + 128, DupHigh(sc16), m4, m30)
                         - Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(bs, sc16), 5);
                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            }

            return HSum8(acc);
        }

        // 128 elements: ql[0..63] low nibbles are elements 0..63, high nibbles 64..127; qh[l] holds the top bit pairs
        // of elements l, l+32, l+64, l+96 (bits 0-1, 2-3, 4-5, 6-7). dup: this half's 8 scales in both lanes; the
        // pair masks (low lane word 2j, high lane word 2j+1) are literals.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Half128(byte* ql, byte* qh, sbyte* y, Vector256<short> dup, Vector256<byte> m4, Vector256<byte> m30)
        {
            // Two codes at a time, the second pair re-read from L1, so that the decoded codes, the four scale masks
            // and the accumulators fit in the 16 registers.
            var hb = Avx.LoadVector256((ushort*)qh);
            var q0 = (Avx.LoadVector256(ql) & m4) | (Avx2.ShiftLeftLogical(hb, 4).AsByte() & m30);
            var q1 = (Avx.LoadVector256(ql + 32) & m4) | (Avx2.ShiftLeftLogical(hb, 2).AsByte() & m30);
            var s01 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256(y)), Pick(dup, Vector256.Create(0x0100010001000100UL, 0x0100010001000100UL, 0x0302030203020302UL, 0x0302030203020302UL).AsByte()))
                    + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256(y + 32)), Pick(dup, Vector256.Create(0x0504050405040504UL, 0x0504050405040504UL, 0x0706070607060706UL, 0x0706070607060706UL).AsByte()));
            var q2 = (Avx2.ShiftRightLogical(Avx.LoadVector256((ushort*)ql), 4).AsByte() & m4) | (hb.AsByte() & m30);
            var q3 = (Avx2.ShiftRightLogical(Avx.LoadVector256((ushort*)(ql + 32)), 4).AsByte() & m4) | (Avx2.ShiftRightLogical(hb, 2).AsByte() & m30);
            var s23 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256(y + 64)), Pick(dup, Vector256.Create(0x0908090809080908UL, 0x0908090809080908UL, 0x0B0A0B0A0B0A0B0AUL, 0x0B0A0B0A0B0A0B0AUL).AsByte()))
                    + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256(y + 96)), Pick(dup, Vector256.Create(0x0D0C0D0C0D0C0D0CUL, 0x0D0C0D0C0D0C0D0CUL, 0x0F0E0F0E0F0E0F0EUL, 0x0F0E0F0E0F0E0F0EUL).AsByte()));
            return s01 + s23;
        }
    }

    public partial struct Q2K : IRowDot4
    {
        public static int BlockElements => Q2KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m3 = Vector256.Create((byte)3);
            // As ggml: the mins, then the codes, into one eight-lane accumulator (Dot2/Dot4 take the same steps).
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q2KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float dy = *(float*)(a + Q8KLayout.DOffset);
                Q2Scales(w, out var sc16, out var mins16);
                acc = BSumTerm(a, mins16, -Half(w + Q2KLayout.DMinOffset) * dy, acc);
                // 128 elements per half: bits 2j..2j+1 of qs[32h + l] are element 128h + 32j + l (16 per scale).
                var q0 = Avx.LoadVector256((ushort*)(w + Q2KLayout.QsOffset));
                var q1 = Avx.LoadVector256((ushort*)(w + Q2KLayout.QsOffset + 32));
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Quad(q0.AsByte() & m3, Avx2.ShiftRightLogical(q0, 2).AsByte() & m3, Avx2.ShiftRightLogical(q0, 4).AsByte() & m3, Avx2.ShiftRightLogical(q0, 6).AsByte() & m3, y, DupLow(sc16))
                         + Quad(q1.AsByte() & m3, Avx2.ShiftRightLogical(q1, 2).AsByte() & m3, Avx2.ShiftRightLogical(q1, 4).AsByte() & m3, Avx2.ShiftRightLogical(q1, 6).AsByte() & m3, y + 128, DupHigh(sc16));

                acc = Scaled(sumi, Half(w + Q2KLayout.DOffset), a, acc);
            }

            return HSum8(acc);
        }

        // The 16 four-bit scales (low nibbles) and mins (high nibbles) as words.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Q2Scales(byte* w, out Vector256<short> sc16, out Vector256<short> mins16)
        {
            var scb = Sse2.LoadVector128(w + Q2KLayout.ScalesOffset);
            var m = Vector128.Create((byte)0x0F);
            sc16 = Avx2.ConvertToVector256Int16(scb & m).AsInt16();
            mins16 = Avx2.ConvertToVector256Int16(Sse2.ShiftRightLogical(scb.AsUInt16(), 4).AsByte() & m).AsInt16();
        }
    }

    public partial struct Q3K : IRowDot4
    {
        public static int BlockElements => Q3KLayout.BlockElements;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var m3 = Vector256.Create((byte)3);
            var m04 = Vector256.Create((byte)4);
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += Q3KLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float d = Half(w + Q3KLayout.DOffset) * *(float*)(a + Q8KLayout.DOffset);
                var sc16 = Q3Scales(w);
                // Element 128h + 32j + l: bits 2j..2j+1 of qs[32h + l], high bit = bit 4h+j of hmask[l], moved to bit 2;
                // stored as 0..7, the −4 comes off each pair sum before the scale (as ggml, so that every int32 lane
                // holds what ggml's holds: the lanes are rounded apart).
                var hm = Avx.LoadVector256((ushort*)(w + Q3KLayout.HMaskOffset));
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                var sumi = Half3(Avx.LoadVector256((ushort*)(w + Q3KLayout.QsOffset)), hm, y, DupLow(sc16), m3, m04)
                         + Half3(Avx.LoadVector256((ushort*)(w + Q3KLayout.QsOffset + 32)), Avx2.ShiftRightLogical(hm, 4), y + 128, DupHigh(sc16), m3, m04);

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            }

            return HSum8(acc);
        }

        // 128 elements: codes j = 0..3 from bits 2j of q and bit j of hm (hm already shifted down by 4h).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Half3(Vector256<ushort> q, Vector256<ushort> hm, sbyte* y, Vector256<short> dup, Vector256<byte> m3, Vector256<byte> m04) =>
            Mul4((q.AsByte() & m3) | (Avx2.ShiftLeftLogical(hm, 2).AsByte() & m04), y, Pick(dup, Vector256.Create(0x0100010001000100UL, 0x0100010001000100UL, 0x0302030203020302UL, 0x0302030203020302UL).AsByte()), m04)
            + Mul4((Avx2.ShiftRightLogical(q, 2).AsByte() & m3) | (Avx2.ShiftLeftLogical(hm, 1).AsByte() & m04), y + 32, Pick(dup, Vector256.Create(0x0504050405040504UL, 0x0504050405040504UL, 0x0706070607060706UL, 0x0706070607060706UL).AsByte()), m04)
            + Mul4((Avx2.ShiftRightLogical(q, 4).AsByte() & m3) | (hm.AsByte() & m04), y + 64, Pick(dup, Vector256.Create(0x0908090809080908UL, 0x0908090809080908UL, 0x0B0A0B0A0B0A0B0AUL, 0x0B0A0B0A0B0A0B0AUL).AsByte()), m04)
            + Mul4((Avx2.ShiftRightLogical(q, 6).AsByte() & m3) | (Avx2.ShiftRightLogical(hm, 1).AsByte() & m04), y + 96, Pick(dup, Vector256.Create(0x0D0C0D0C0D0C0D0CUL, 0x0D0C0D0C0D0C0D0CUL, 0x0F0E0F0E0F0E0F0EUL, 0x0F0E0F0E0F0E0F0EUL).AsByte()), m04);

        // madd(maddubs(code, y) − maddubs(4, y), scale): the −4 off the s16 pair sums (exact: |pair| ≤ 1792), as ggml.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector256<int> Mul4(Vector256<byte> code, sbyte* y, Vector256<short> scale, Vector256<byte> four)
        {
            var q8 = Avx.LoadVector256(y);
            return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(code, q8) - Avx2.MultiplyAddAdjacent(four, q8), scale);
        }

        // The 16 six-bit scales minus 32, as words.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector256<short> Q3Scales(byte* w)
        {
            KScaleBits.UnpackQ3(w + Q3KLayout.ScalesOffset, out uint s0, out uint s1, out uint s2, out uint s3);
            return Avx2.ConvertToVector256Int16(Vector128.Create(s0, s1, s2, s3).AsByte()).AsInt16() - Vector256.Create((short)32);
        }
    }

    public partial struct IQ4XS : IRowDot4
    {
        public static int BlockElements => IQ4XSLayout.BlockElements;

        // The IQ4_NL code book (ggml's kvalues_iq4nl), in both lanes for vpshufb.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector256<sbyte> Table() =>
            Vector256.Create((sbyte)-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113, -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int blocks)
        {
            var table = Table();
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++, w += IQ4XSLayout.BlockBytes, a += Q8KLayout.BlockBytes)
            {
                float d = Half(w + IQ4XSLayout.DOffset) * *(float*)(a + Q8KLayout.DOffset);
                var scales = IQ4XSScales(*(uint*)(w + IQ4XSLayout.ScalesLOffset), *(ushort*)(w + IQ4XSLayout.ScalesHOffset));
                sbyte* y = (sbyte*)(a + Q8KLayout.QsOffset);
                byte* qs = w + IQ4XSLayout.QsOffset;
                var sumi = Pair32(qs, y, scales, table, Vector256.Create((ushort)0x0100).AsByte(), Vector256.Create((ushort)0x0302).AsByte());
                sumi += Pair32(qs + 32, y + 64, scales, table, Vector256.Create((ushort)0x0504).AsByte(), Vector256.Create((ushort)0x0706).AsByte());
                sumi += Pair32(qs + 64, y + 128, scales, table, Vector256.Create((ushort)0x0908).AsByte(), Vector256.Create((ushort)0x0B0A).AsByte());
                sumi += Pair32(qs + 96, y + 192, scales, table, Vector256.Create((ushort)0x0D0C).AsByte(), Vector256.Create((ushort)0x0F0E).AsByte());

                acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sumi), Vector256.Create(d), acc);
            }

            return HSum8(acc);
        }

        // Two 32-element sub-blocks (16 bytes of nibbles each), scales picked by the word masks w0, w1.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Pair32(byte* qs, sbyte* y, Vector256<short> scales, Vector256<sbyte> table, Vector256<byte> w0, Vector256<byte> w1) =>
            DotSigned(Avx2.Shuffle(table, Nibbles32(qs).AsSByte()), Avx.LoadVector256(y), Pick(scales, w0))
            + DotSigned(Avx2.Shuffle(table, Nibbles32(qs + 16).AsSByte()), Avx.LoadVector256(y + 32), Pick(scales, w1));
    }
}
