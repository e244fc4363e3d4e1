using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// AVX2 two-token dots (<see cref="IRowDot4.Dot2"/>) of the 256-element formats against Q8_K, for the leftover pair
/// of a batch (in an MoE layer most experts get one to three tokens of a small batch): each weight chunk's codes and
/// scale vector are decoded once and used for both activation rows, as the four-token kernels in Avx2KQuants4.cs do,
/// instead of two single-token dots that decode every block twice.
/// </summary>
internal static unsafe partial class Avx2Dots
{
    public partial struct Q4K
    {
        /// <inheritdoc cref="IRowDot4.HasDot2"/>
        public static bool HasDot2 => true;

        /// <inheritdoc cref="IRowDot4.PadThree"/>
        public static bool PadThree => true;

        /// <inheritdoc cref="IRowDot4.Dot2"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r)
        {
            var m4 = Vector256.Create((byte)0x0F);
            Vector256<float> f0 = default, f1 = default;
            var m = Vector256<float>.Zero; // both tokens' acc_m (MinsTermPair)
            for (int b = 0; b < blocks; b++, w += Q4KLayout.BlockBytes, a0 += Q8KLayout.BlockBytes, a1 += Q8KLayout.BlockBytes)
            {
                K4ScalesPairs(w + Q4KLayout.ScalesOffset, out var scales, out var minPairs);
                float d = Half(w + Q4KLayout.DOffset), dmin = -Half(w + Q4KLayout.DMinOffset);
                m = MinsTermPair(a0, a1, minPairs, dmin, m);
                Vector256<int> s0 = default, s1 = default;
                var ws = Vector256.Create((ushort)0x0100).AsByte();
                for (int c = 0; c < 4; c++, ws += Vector256.Create((byte)4))
                {
                    var q = Avx.LoadVector256(w + Q4KLayout.QsOffset + 32 * c);
                    var lo = q & m4;
                    var hi = Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4;
                    var sl = Pick(scales, ws);
                    var sh = Pick(scales, ws + Vector256.Create((byte)2));
                    int o = Q8KLayout.QsOffset + 64 * c;
                    s0 += Mul(lo, a0 + o, sl) + Mul(hi, a0 + o + 32, sh);
                    s1 += Mul(lo, a1 + o, sl) + Mul(hi, a1 + o + 32, sh);
                }

                f0 = Scaled(s0, d, a0, f0);
                f1 = Scaled(s1, d, a1, f1);
            }

            MinsPairSplit(m, out float m0, out float m1);
            r[0] = HSum8(f0) + m0;
            r[1] = HSum8(f1) + m1;
        }
    }

    public partial struct Q5K
    {
        /// <inheritdoc cref="IRowDot4.HasDot2"/>
        public static bool HasDot2 => true;

        /// <inheritdoc cref="IRowDot4.PadThree"/>
        public static bool PadThree => true;

        /// <inheritdoc cref="IRowDot4.Dot2"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m10 = Vector256.Create((byte)0x10);
            Vector256<float> f0 = default, f1 = default;
            var m = Vector128<float>.Zero; // lanes 0, 1: the two tokens' summs
            for (int b = 0; b < blocks; b++, w += Q5KLayout.BlockBytes, a0 += Q8KLayout.BlockBytes, a1 += Q8KLayout.BlockBytes)
            {
                K4ScalesPairs(w + Q5KLayout.ScalesOffset, out var scales, out var minPairs);
                float d = Half(w + Q5KLayout.DOffset), dmin = -Half(w + Q5KLayout.DMinOffset);
                m = MinsScalar2(a0, a1, minPairs, dmin, m);
                var qh = Avx.LoadVector256((ushort*)(w + Q5KLayout.QhOffset));
                Vector256<int> s0 = default, s1 = default;
                var ws = Vector256.Create((ushort)0x0100).AsByte();
                for (int c = 0; c < 4; c++, qh = Avx2.ShiftRightLogical(qh, 2), ws += Vector256.Create((byte)4))
                {
                    var q = Avx.LoadVector256(w + Q5KLayout.QsOffset + 32 * c);
                    var lo = (q & m4) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & m10);
                    var hi = (Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftLeftLogical(qh, 3).AsByte() & m10);
                    var sl = Pick(scales, ws);
                    var sh = Pick(scales, ws + Vector256.Create((byte)2));
                    int o = Q8KLayout.QsOffset + 64 * c;
                    s0 += Mul(lo, a0 + o, sl) + Mul(hi, a0 + o + 32, sh);
                    s1 += Mul(lo, a1 + o, sl) + Mul(hi, a1 + o + 32, sh);
                }

                f0 = Scaled(s0, d, a0, f0);
                f1 = Scaled(s1, d, a1, f1);
            }

            r[0] = HSum8(f0) + m.ToScalar();
            r[1] = HSum8(f1) + m.GetElement(1);
        }
    }

    public partial struct Q6K
    {
        /// <inheritdoc cref="IRowDot4.HasDot2"/>
        public static bool HasDot2 => true;

        /// <inheritdoc cref="IRowDot4.PadThree"/>
        public static bool PadThree => true;

        /// <inheritdoc cref="IRowDot4.Dot2"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var m30 = Vector256.Create((byte)0x30);
            Vector256<float> f0 = default, f1 = default;
            for (int b = 0; b < blocks; b++, w += Q6KLayout.BlockBytes, a0 += Q8KLayout.BlockBytes, a1 += Q8KLayout.BlockBytes)
            {
                float d = Half(w + Q6KLayout.DOffset);
                var sc16 = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(w + Q6KLayout.ScalesOffset)));
                // The codes are stored +32: each token's sum starts at −Σ sc·32·bsum (exact).
                Vector256<int> s0 = Offset32(a0, sc16), s1 = Offset32(a1, sc16);
                var dup = DupLow(sc16);
                for (int h = 0; h < 2; h++, dup = DupHigh(sc16))
                {
                    // q0..q3: elements 0..31, 32..63, 64..95, 96..127 of this half, all four decoded at once (two
                    // tokens leave the registers for it).
                    byte* ql = w + Q6KLayout.QlOffset + 64 * h;
                    var hb = Avx.LoadVector256((ushort*)(w + Q6KLayout.QhOffset + 32 * h));
                    var l0 = Avx.LoadVector256(ql);
                    var l1 = Avx.LoadVector256(ql + 32);
                    var q0 = (l0 & m4) | (Avx2.ShiftLeftLogical(hb, 4).AsByte() & m30);
                    var q1 = (l1 & m4) | (Avx2.ShiftLeftLogical(hb, 2).AsByte() & m30);
                    var q2 = (Avx2.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & m4) | (hb.AsByte() & m30);
                    var q3 = (Avx2.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftRightLogical(hb, 2).AsByte() & m30);
                    var c0 = Pick(dup, Vector256.Create(0x0100010001000100UL, 0x0100010001000100UL, 0x0302030203020302UL, 0x0302030203020302UL).AsByte());
                    var c1 = Pick(dup, Vector256.Create(0x0504050405040504UL, 0x0504050405040504UL, 0x0706070607060706UL, 0x0706070607060706UL).AsByte());
                    var c2 = Pick(dup, Vector256.Create(0x0908090809080908UL, 0x0908090809080908UL, 0x0B0A0B0A0B0A0B0AUL, 0x0B0A0B0A0B0A0B0AUL).AsByte());
                    var c3 = Pick(dup, Vector256.Create(0x0D0C0D0C0D0C0D0CUL, 0x0D0C0D0C0D0C0D0CUL, 0x0F0E0F0E0F0E0F0EUL, 0x0F0E0F0E0F0E0F0EUL).AsByte());
                    int o = Q8KLayout.QsOffset + 128 * h;
                    s0 += Mul(q0, a0 + o, c0) + Mul(q1, a0 + o + 32, c1) + Mul(q2, a0 + o + 64, c2) + Mul(q3, a0 + o + 96, c3);
                    s1 += Mul(q0, a1 + o, c0) + Mul(q1, a1 + o + 32, c1) + Mul(q2, a1 + o + 64, c2) + Mul(q3, a1 + o + 96, c3);
                }

                f0 = Scaled(s0, d, a0, f0);
                f1 = Scaled(s1, d, a1, f1);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
        }
    }

    public partial struct Q2K
    {
        /// <inheritdoc cref="IRowDot4.HasDot2"/>
        public static bool HasDot2 => true;

        /// <inheritdoc cref="IRowDot4.PadThree"/>
        public static bool PadThree => true;

        /// <inheritdoc cref="IRowDot4.Dot2"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r)
        {
            var m3 = Vector256.Create((byte)3);
            Vector256<float> f0 = default, f1 = default;
            for (int b = 0; b < blocks; b++, w += Q2KLayout.BlockBytes, a0 += Q8KLayout.BlockBytes, a1 += Q8KLayout.BlockBytes)
            {
                Q2Scales(w, out var sc16, out var mins16);
                float d = Half(w + Q2KLayout.DOffset), dmin = -Half(w + Q2KLayout.DMinOffset);
                f0 = BSumTerm(a0, mins16, dmin * Dy(a0), f0);
                f1 = BSumTerm(a1, mins16, dmin * Dy(a1), f1);
                Vector256<int> s0 = default, s1 = default;
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
                        s0 += Mul(qj, a0 + o, sc);
                        s1 += Mul(qj, a1 + o, sc);
                    }
                }

                f0 = Scaled(s0, d, a0, f0);
                f1 = Scaled(s1, d, a1, f1);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
        }
    }

    public partial struct Q3K
    {
        /// <inheritdoc cref="IRowDot4.HasDot2"/>
        public static bool HasDot2 => true;

        /// <inheritdoc cref="IRowDot4.PadThree"/>
        public static bool PadThree => true;

        /// <inheritdoc cref="IRowDot4.Dot2"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r)
        {
            var m3 = Vector256.Create((byte)3);
            var m04 = Vector256.Create((byte)4);
            Vector256<float> f0 = default, f1 = default;
            for (int b = 0; b < blocks; b++, w += Q3KLayout.BlockBytes, a0 += Q8KLayout.BlockBytes, a1 += Q8KLayout.BlockBytes)
            {
                var sc16 = Q3Scales(w);
                float d = Half(w + Q3KLayout.DOffset);
                var hm = Avx.LoadVector256((ushort*)(w + Q3KLayout.HMaskOffset));
                // The codes are stored +4: the −4 comes off each pair sum before the scale, as ggml (Mul4).
                Vector256<int> s0 = default, s1 = default;
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
                        s0 += Mul4(qj, (sbyte*)(a0 + o), sc, m04);
                        s1 += Mul4(qj, (sbyte*)(a1 + o), sc, m04);
                    }
                }

                f0 = Scaled(s0, d, a0, f0);
                f1 = Scaled(s1, d, a1, f1);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
        }
    }

    public partial struct IQ4XS
    {
        /// <inheritdoc cref="IRowDot4.HasDot2"/>
        public static bool HasDot2 => true;

        /// <inheritdoc cref="IRowDot4.PadThree"/>
        public static bool PadThree => true;

        /// <inheritdoc cref="IRowDot4.Dot2"/>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r)
        {
            var table = Table();
            Vector256<float> f0 = default, f1 = default;
            for (int b = 0; b < blocks; b++, w += IQ4XSLayout.BlockBytes, a0 += Q8KLayout.BlockBytes, a1 += Q8KLayout.BlockBytes)
            {
                float d = Half(w + IQ4XSLayout.DOffset);
                var scales = IQ4XSScales(*(uint*)(w + IQ4XSLayout.ScalesLOffset), *(ushort*)(w + IQ4XSLayout.ScalesHOffset));
                Vector256<int> s0 = default, s1 = default;
                var ws = Vector256.Create((ushort)0x0100).AsByte();
                for (int ib = 0; ib < 8; ib++, ws += Vector256.Create((byte)2))
                {
                    // Signed codes: |x| (u8) times the activations with x's sign, |x| shared by the two.
                    var x = Avx2.Shuffle(table, Nibbles32(w + IQ4XSLayout.QsOffset + 16 * ib).AsSByte());
                    var ax = Avx2.Abs(x);
                    var sc = Pick(scales, ws);
                    int o = Q8KLayout.QsOffset + 32 * ib;
                    s0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a0 + o)), x)), sc);
                    s1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256((sbyte*)(a1 + o)), x)), sc);
                }

                f0 = Scaled(s0, d, a0, f0);
                f1 = Scaled(s1, d, a1, f1);
            }

            r[0] = HSum8(f0);
            r[1] = HSum8(f1);
        }
    }
}
