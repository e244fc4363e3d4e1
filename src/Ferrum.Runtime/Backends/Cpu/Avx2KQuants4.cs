using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// AVX2 four-token dots (<see cref="IRowDot4.Dot4"/>) of the 256-element formats against Q8_K: each weight chunk's
/// codes and scale vector are decoded once into registers and used for four activation rows, each with its own
/// int32 sum per super-block (q6_K/q3_K start it at minus their code offset) and its own float accumulator, with
/// ggml's float steps per token (q2_K's mins go into that accumulator, q4_K's into a four-lane one, q5_K's into a
/// scalar; Avx2GgmlSums.cs), so the 16 ymm registers hold the four pairs plus the decoded chunk.
/// </summary>
internal static unsafe partial class Avx2Dots
{
    // madd(maddubs(x, y), scale): 32 u8 codes × 32 s8 activations, pairs to s16, times the per-16 scale words, to s32.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Mul(Vector256<byte> x, byte* y, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256((sbyte*)y)), scale);

    // f + cvt(madd(bsums of y, per-pair factors)) · k: the mins of one Q8_K block.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> BSumTerm(byte* y, Vector256<short> factors, float k, Vector256<float> f) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(y + Q8KLayout.BSumsOffset)), factors)), Vector256.Create(k), f);

    // f + cvt(s) · d · dy.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scaled(Vector256<int> s, float d, byte* y, Vector256<float> f) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(s), Vector256.Create(d * *(float*)(y + Q8KLayout.DOffset)), f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dy(byte* y) => *(float*)(y + Q8KLayout.DOffset);

    public partial struct Q4K
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var m4 = Vector256.Create((byte)0x0F);
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            Vector256<float> m01 = default, m23 = default; // two tokens' acc_m each (MinsTermPair)
            for (int b = 0; b < blocks; b++, w += Q4KLayout.BlockBytes)
            {
                K4ScalesPairs(w + Q4KLayout.ScalesOffset, out var scales, out var minPairs);
                float d = Half(w + Q4KLayout.DOffset), dmin = -Half(w + Q4KLayout.DMinOffset);
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                m01 = MinsTermPair(y0, y1, minPairs, dmin, m01);
                m23 = MinsTermPair(y2, y3, minPairs, dmin, m23);
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                var ws = Vector256.Create((ushort)0x0100).AsByte();
                for (int c = 0; c < 4; c++, ws += Vector256.Create((byte)4))
                {
                    var q = Avx.LoadVector256(w + Q4KLayout.QsOffset + 32 * c);
                    var lo = q & m4;
                    var hi = Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4;
                    var sl = Pick(scales, ws);
                    var sh = Pick(scales, ws + Vector256.Create((byte)2));
                    int o = Q8KLayout.QsOffset + 64 * c;
                    s0 += Mul(lo, y0 + o, sl) + Mul(hi, y0 + o + 32, sh);
                    s1 += Mul(lo, y1 + o, sl) + Mul(hi, y1 + o + 32, sh);
                    s2 += Mul(lo, y2 + o, sl) + Mul(hi, y2 + o + 32, sh);
                    s3 += Mul(lo, y3 + o, sl) + Mul(hi, y3 + o + 32, sh);
                }

                f0 = Scaled(s0, d, y0, f0);
                f1 = Scaled(s1, d, y1, f1);
                f2 = Scaled(s2, d, y2, f2);
                f3 = Scaled(s3, d, y3, f3);
            }

            MinsPairSplit(m01, out float m0, out float m1);
            MinsPairSplit(m23, out float m2, out float m3);
            r[0] = HSum8(f0) + m0;
            r[1] = HSum8(f1) + m1;
            r[2] = HSum8(f2) + m2;
            r[3] = HSum8(f3) + m3;
        }
    }

    public partial struct Q5K
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m10 = Vector256.Create((byte)0x10);
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            var m = Vector128<float>.Zero; // lane t: token t's summs
            for (int b = 0; b < blocks; b++, w += Q5KLayout.BlockBytes)
            {
                K4ScalesPairs(w + Q5KLayout.ScalesOffset, out var scales, out var minPairs);
                float d = Half(w + Q5KLayout.DOffset), dmin = -Half(w + Q5KLayout.DMinOffset);
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                m = MinsScalar4(y0, y1, y2, y3, minPairs, dmin, m);
                var qh = Avx.LoadVector256((ushort*)(w + Q5KLayout.QhOffset));
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                var ws = Vector256.Create((ushort)0x0100).AsByte();
                for (int c = 0; c < 4; c++, qh = Avx2.ShiftRightLogical(qh, 2), ws += Vector256.Create((byte)4))
                {
                    var q = Avx.LoadVector256(w + Q5KLayout.QsOffset + 32 * c);
                    var lo = (q & m4) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & m10);
                    var hi = (Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftLeftLogical(qh, 3).AsByte() & m10);
                    var sl = Pick(scales, ws);
                    var sh = Pick(scales, ws + Vector256.Create((byte)2));
                    int o = Q8KLayout.QsOffset + 64 * c;
                    s0 += Mul(lo, y0 + o, sl) + Mul(hi, y0 + o + 32, sh);
                    s1 += Mul(lo, y1 + o, sl) + Mul(hi, y1 + o + 32, sh);
                    s2 += Mul(lo, y2 + o, sl) + Mul(hi, y2 + o + 32, sh);
                    s3 += Mul(lo, y3 + o, sl) + Mul(hi, y3 + o + 32, sh);
                }

                f0 = Scaled(s0, d, y0, f0);
                f1 = Scaled(s1, d, y1, f1);
                f2 = Scaled(s2, d, y2, f2);
                f3 = Scaled(s3, d, y3, f3);
            }

            r[0] = HSum8(f0) + m.ToScalar();
            r[1] = HSum8(f1) + m.GetElement(1);
            r[2] = HSum8(f2) + m.GetElement(2);
            r[3] = HSum8(f3) + m.GetElement(3);
        }
    }

    public partial struct Q6K
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m30 = Vector256.Create((byte)0x30);
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++, w += Q6KLayout.BlockBytes)
            {
                float d = Half(w + Q6KLayout.DOffset);
                var sc16 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(w + Q6KLayout.ScalesOffset)));
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                // The codes are stored +32: each token's sum starts at −Σ sc·32·bsum (exact).
                Vector256<int> s0 = Offset32(y0, sc16), s1 = Offset32(y1, sc16), s2 = Offset32(y2, sc16), s3 = Offset32(y3, sc16);
                var dup = DupLow(sc16);
                for (int h = 0; h < 2; h++, dup = DupHigh(sc16))
                {
                    // As Q6K.Dot: q0..q3 are elements 0..31, 32..63, 64..95, 96..127 of this half; two at a time
                    // keeps the decoded codes, scales and eight accumulators within the 16 registers.
                    byte* ql = w + Q6KLayout.QlOffset + 64 * h;
                    var hb = Avx.LoadVector256((ushort*)(w + Q6KLayout.QhOffset + 32 * h));
                    int o = Q8KLayout.QsOffset + 128 * h;
                    var q0 = (Avx.LoadVector256(ql) & m4) | (Avx2.ShiftLeftLogical(hb, 4).AsByte() & m30);
                    var q1 = (Avx.LoadVector256(ql + 32) & m4) | (Avx2.ShiftLeftLogical(hb, 2).AsByte() & m30);
                    var pm = Vector256.Create(0x0100010001000100UL, 0x0100010001000100UL, 0x0302030203020302UL, 0x0302030203020302UL).AsByte();
                    var c0 = Pick(dup, pm);
                    var c1 = Pick(dup, pm + Vector256.Create((byte)4));
                    s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256((sbyte*)(y0 + o))), c0) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256((sbyte*)(y0 + o + 32))), c1);
                    s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256((sbyte*)(y1 + o))), c0) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256((sbyte*)(y1 + o + 32))), c1);
                    s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256((sbyte*)(y2 + o))), c0) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256((sbyte*)(y2 + o + 32))), c1);
                    s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256((sbyte*)(y3 + o))), c0) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256((sbyte*)(y3 + o + 32))), c1);
                    var q2 = (Avx2.ShiftRightLogical(Avx.LoadVector256((ushort*)ql), 4).AsByte() & m4) | (hb.AsByte() & m30);
                    var q3 = (Avx2.ShiftRightLogical(Avx.LoadVector256((ushort*)(ql + 32)), 4).AsByte() & m4) | (Avx2.ShiftRightLogical(hb, 2).AsByte() & m30);
                    pm += Vector256.Create((byte)4) + Vector256.Create((byte)4);
                    var c2 = Pick(dup, pm);
                    var c3 = Pick(dup, pm + Vector256.Create((byte)4));
                    s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256((sbyte*)(y0 + o + 64))), c2) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256((sbyte*)(y0 + o + 96))), c3);
                    s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256((sbyte*)(y1 + o + 64))), c2) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256((sbyte*)(y1 + o + 96))), c3);
                    s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256((sbyte*)(y2 + o + 64))), c2) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256((sbyte*)(y2 + o + 96))), c3);
                    s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256((sbyte*)(y3 + o + 64))), c2) + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256((sbyte*)(y3 + o + 96))), c3);
                }

                f0 = Scaled(s0, d, y0, f0);
                f1 = Scaled(s1, d, y1, f1);
                f2 = Scaled(s2, d, y2, f2);
                f3 = Scaled(s3, d, y3, f3);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
            r[2] = HSum8(f2);
            r[3] = HSum8(f3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Offset32(byte* y, Vector256<short> sc16) =>
            Vector256<int>.Zero - Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(y + Q8KLayout.BSumsOffset)), sc16), 5);
    }

    public partial struct Q2K
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var m3 = Vector256.Create((byte)3);
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++, w += Q2KLayout.BlockBytes)
            {
                Q2Scales(w, out var sc16, out var mins16);
                float d = Half(w + Q2KLayout.DOffset), dmin = -Half(w + Q2KLayout.DMinOffset);
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                f0 = BSumTerm(y0, mins16, dmin * Dy(y0), f0);
                f1 = BSumTerm(y1, mins16, dmin * Dy(y1), f1);
                f2 = BSumTerm(y2, mins16, dmin * Dy(y2), f2);
                f3 = BSumTerm(y3, mins16, dmin * Dy(y3), f3);
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                var dup = DupLow(sc16);
                for (int h = 0; h < 2; h++, dup = DupHigh(sc16))
                {
                    var q = Avx.LoadVector256((ushort*)(w + Q2KLayout.QsOffset + 32 * h));
                    var pm = Vector256.Create(0x0100010001000100UL, 0x0100010001000100UL, 0x0302030203020302UL, 0x0302030203020302UL).AsByte();
                    for (int j = 0; j < 4; j++, q = Avx2.ShiftRightLogical(q, 2), pm += Vector256.Create((byte)4))
                    {
                        var qj = q.AsByte() & m3;
                        var sc = Pick(dup, pm);
                        int o = Q8KLayout.QsOffset + 128 * h + 32 * j;
                        s0 += Mul(qj, y0 + o, sc);
                        s1 += Mul(qj, y1 + o, sc);
                        s2 += Mul(qj, y2 + o, sc);
                        s3 += Mul(qj, y3 + o, sc);
                    }
                }

                f0 = Scaled(s0, d, y0, f0);
                f1 = Scaled(s1, d, y1, f1);
                f2 = Scaled(s2, d, y2, f2);
                f3 = Scaled(s3, d, y3, f3);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
            r[2] = HSum8(f2);
            r[3] = HSum8(f3);
        }
    }

    public partial struct Q3K
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var m3 = Vector256.Create((byte)3);
            var m04 = Vector256.Create((byte)4);
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++, w += Q3KLayout.BlockBytes)
            {
                var sc16 = Q3Scales(w);
                float d = Half(w + Q3KLayout.DOffset);
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                var hm = Avx.LoadVector256((ushort*)(w + Q3KLayout.HMaskOffset));
                // The codes are stored +4: the −4 comes off each pair sum before the scale, as ggml (Mul4).
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                var dup = DupLow(sc16);
                for (int h = 0; h < 2; h++, dup = DupHigh(sc16))
                {
                    var q = Avx.LoadVector256((ushort*)(w + Q3KLayout.QsOffset + 32 * h));
                    var pm = Vector256.Create(0x0100010001000100UL, 0x0100010001000100UL, 0x0302030203020302UL, 0x0302030203020302UL).AsByte();
                    for (int j = 0; j < 4; j++, q = Avx2.ShiftRightLogical(q, 2), hm = Avx2.ShiftRightLogical(hm, 1), pm += Vector256.Create((byte)4))
                    {
                        var qj = (q.AsByte() & m3) | (Avx2.ShiftLeftLogical(hm, 2).AsByte() & m04);
                        var sc = Pick(dup, pm);
                        int o = Q8KLayout.QsOffset + 128 * h + 32 * j;
                        s0 += Mul4(qj, (sbyte*)(y0 + o), sc, m04);
                        s1 += Mul4(qj, (sbyte*)(y1 + o), sc, m04);
                        s2 += Mul4(qj, (sbyte*)(y2 + o), sc, m04);
                        s3 += Mul4(qj, (sbyte*)(y3 + o), sc, m04);
                    }
                }

                f0 = Scaled(s0, d, y0, f0);
                f1 = Scaled(s1, d, y1, f1);
                f2 = Scaled(s2, d, y2, f2);
                f3 = Scaled(s3, d, y3, f3);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
            r[2] = HSum8(f2);
            r[3] = HSum8(f3);
        }
    }

    public partial struct IQ4XS
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int blocks, float* r)
        {
            var table = Table();
            byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++, w += IQ4XSLayout.BlockBytes)
            {
                float d = Half(w + IQ4XSLayout.DOffset);
                var scales = IQ4XSScales(*(uint*)(w + IQ4XSLayout.ScalesLOffset), *(ushort*)(w + IQ4XSLayout.ScalesHOffset));
                long ao = (long)b * Q8KLayout.BlockBytes;
                byte* y0 = a0 + ao, y1 = a1 + ao, y2 = a2 + ao, y3 = a3 + ao;
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                var ws = Vector256.Create((ushort)0x0100).AsByte();
                for (int ib = 0; ib < 8; ib++, ws += Vector256.Create((byte)2))
                {
                    // Signed codes: |x| (u8) times the activations with x's sign, as DotSigned, |x| shared by the four.
                    var x = Avx2.Shuffle(table, Nibbles32(w + IQ4XSLayout.QsOffset + 16 * ib).AsSByte());
                    var ax = Avx2.Abs(x);
                    var sc = Pick(scales, ws);
                    int o = Q8KLayout.QsOffset + 32 * ib;
                    s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(y0 + o)), x)), sc);
                    s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(y1 + o)), x)), sc);
                    s2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(y2 + o)), x)), sc);
                    s3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(y3 + o)), x)), sc);
                }

                f0 = Scaled(s0, d, y0, f0);
                f1 = Scaled(s1, d, y1, f1);
                f2 = Scaled(s2, d, y2, f2);
                f3 = Scaled(s3, d, y3, f3);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
            r[2] = HSum8(f2);
            r[3] = HSum8(f3);
        }
    }
}
