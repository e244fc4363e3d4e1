using System.Runtime.CompilerServices;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Portable scalar dot products, one per weight format, against the ggml activation block types
/// (Q8_K: f32 d, i8 qs[256], i16 bsums[16]; Q8_0: f16 d, i8 qs[32]; Q8_1: f16 d, f16 s, i8 qs[32]).
/// Integer sums per sub-block, float scales per block, as ggml's generic vec_dot does.
/// </summary>
internal static unsafe class ScalarDots
{
    /// <summary>IQ4_NL / IQ4_XS non-linear 4-bit code book.</summary>
    public static readonly sbyte[] Iq4Values = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

    /// <summary>MXFP4 (E2M1, doubled) code book.</summary>
    public static readonly sbyte[] Fp4Values = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

    /// <summary>E8M0 exponent to the float ggml multiplies the doubled E2M1 values by: 2^(e-128), denormal below e=2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float E8M0Half(byte e) =>
        BitConverter.UInt32BitsToSingle(e < 2 ? 0x00200000u << e : (uint)(e - 1) << 23);

    /// <summary>Unpacks Q4_K/Q5_K's 12 scale bytes to 8 six-bit scales (bytes of sc) and 8 mins (bytes of m).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnpackK4Scales(byte* s, out ulong sc, out ulong m)
    {
        uint s0 = Unsafe.ReadUnaligned<uint>(s), s1 = Unsafe.ReadUnaligned<uint>(s + 4), s2 = Unsafe.ReadUnaligned<uint>(s + 8);
        uint scLo = s0 & 0x3f3f3f3f;
        uint scHi = (s2 & 0x0f0f0f0f) | (((s0 >> 6) & 0x03030303) << 4);
        uint mLo = s1 & 0x3f3f3f3f;
        uint mHi = ((s2 >> 4) & 0x0f0f0f0f) | (((s1 >> 6) & 0x03030303) << 4);
        sc = scLo | ((ulong)scHi << 32);
        m = mLo | ((ulong)mHi << 32);
    }

    /// <summary>Unpacks Q3_K's 12 scale bytes to 16 six-bit scales (unsigned, still biased by 32) as 4 words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnpackQ3Scales(byte* s, out uint w0, out uint w1, out uint w2, out uint w3)
    {
        uint a0 = Unsafe.ReadUnaligned<uint>(s), a1 = Unsafe.ReadUnaligned<uint>(s + 4), t = Unsafe.ReadUnaligned<uint>(s + 8);
        w0 = (a0 & 0x0f0f0f0f) | ((t & 0x03030303) << 4);
        w1 = (a1 & 0x0f0f0f0f) | (((t >> 2) & 0x03030303) << 4);
        w2 = ((a0 >> 4) & 0x0f0f0f0f) | (((t >> 4) & 0x03030303) << 4);
        w3 = ((a1 >> 4) & 0x0f0f0f0f) | (((t >> 6) & 0x03030303) << 4);
    }

    public struct Q4K : IRowDot
    {
        public static int BlockElements => 256;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 144, a += ActivationQuant.Q8KBlockBytes)
            {
                float dy = *(float*)a;
                sbyte* q8 = (sbyte*)(a + 4);
                short* bs = (short*)(a + 260);
                UnpackK4Scales(w + 4, out ulong sc, out ulong m);
                byte* qs = w + 16;
                int sumi = 0, summ = 0;
                for (int c = 0; c < 4; c++)
                {
                    int s0 = 0, s1 = 0;
                    for (int l = 0; l < 32; l++)
                    {
                        s0 += (qs[32 * c + l] & 0xF) * q8[64 * c + l];
                        s1 += (qs[32 * c + l] >> 4) * q8[64 * c + 32 + l];
                    }

                    sumi += (int)((sc >> (16 * c)) & 0xFF) * s0 + (int)((sc >> (16 * c + 8)) & 0xFF) * s1;
                }

                for (int j = 0; j < 8; j++)
                {
                    summ += (int)((m >> (8 * j)) & 0xFF) * (bs[2 * j] + bs[2 * j + 1]);
                }

                acc += Fp16.Load(w) * dy * sumi - Fp16.Load(w + 2) * dy * summ;
            }

            return acc;
        }
    }

    public struct Q5K : IRowDot
    {
        public static int BlockElements => 256;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 176, a += ActivationQuant.Q8KBlockBytes)
            {
                float dy = *(float*)a;
                sbyte* q8 = (sbyte*)(a + 4);
                short* bs = (short*)(a + 260);
                UnpackK4Scales(w + 4, out ulong sc, out ulong m);
                byte* qh = w + 16;
                byte* qs = w + 48;
                int sumi = 0, summ = 0;
                for (int c = 0; c < 4; c++)
                {
                    int s0 = 0, s1 = 0;
                    for (int l = 0; l < 32; l++)
                    {
                        int lo = (qs[32 * c + l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4);
                        int hi = (qs[32 * c + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
                        s0 += lo * q8[64 * c + l];
                        s1 += hi * q8[64 * c + 32 + l];
                    }

                    sumi += (int)((sc >> (16 * c)) & 0xFF) * s0 + (int)((sc >> (16 * c + 8)) & 0xFF) * s1;
                }

                for (int j = 0; j < 8; j++)
                {
                    summ += (int)((m >> (8 * j)) & 0xFF) * (bs[2 * j] + bs[2 * j + 1]);
                }

                acc += Fp16.Load(w) * dy * sumi - Fp16.Load(w + 2) * dy * summ;
            }

            return acc;
        }
    }

    public struct Q6K : IRowDot
    {
        public static int BlockElements => 256;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 210, a += ActivationQuant.Q8KBlockBytes)
            {
                float dy = *(float*)a;
                sbyte* q8 = (sbyte*)(a + 4);
                sbyte* sc = (sbyte*)(w + 192);
                int sumi = 0;
                for (int h = 0; h < 2; h++)
                {
                    byte* ql = w + 64 * h;
                    byte* qh = w + 128 + 32 * h;
                    sbyte* y = q8 + 128 * h;
                    for (int l = 0; l < 32; l++)
                    {
                        int isb = 8 * h + l / 16;
                        int q0 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
                        int q1 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                        int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                        int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                        sumi += sc[isb] * q0 * y[l] + sc[isb + 2] * q1 * y[l + 32] + sc[isb + 4] * q2 * y[l + 64] + sc[isb + 6] * q3 * y[l + 96];
                    }
                }

                acc += Fp16.Load(w + 208) * dy * sumi;
            }

            return acc;
        }
    }

    public struct Q2K : IRowDot
    {
        public static int BlockElements => 256;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 84, a += ActivationQuant.Q8KBlockBytes)
            {
                float dy = *(float*)a;
                sbyte* q8 = (sbyte*)(a + 4);
                short* bs = (short*)(a + 260);
                byte* sc = w;
                byte* qs = w + 16;
                int sumi = 0, summ = 0;
                for (int h = 0; h < 2; h++)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        for (int half = 0; half < 2; half++)
                        {
                            int isb = 8 * h + 2 * j + half;
                            int s = 0;
                            for (int l = 16 * half; l < 16 * half + 16; l++)
                            {
                                s += ((qs[32 * h + l] >> (2 * j)) & 3) * q8[128 * h + 32 * j + l];
                            }

                            sumi += (sc[isb] & 0xF) * s;
                        }
                    }
                }

                for (int k = 0; k < 16; k++)
                {
                    summ += (sc[k] >> 4) * bs[k];
                }

                acc += Fp16.Load(w + 80) * dy * sumi - Fp16.Load(w + 82) * dy * summ;
            }

            return acc;
        }
    }

    public struct Q3K : IRowDot
    {
        public static int BlockElements => 256;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            sbyte* scales = stackalloc sbyte[16];
            for (int i = 0; i < blocks; i++, w += 110, a += ActivationQuant.Q8KBlockBytes)
            {
                float dy = *(float*)a;
                sbyte* q8 = (sbyte*)(a + 4);
                byte* hm = w;
                byte* qs = w + 32;
                UnpackQ3Scales(w + 96, out uint w0, out uint w1, out uint w2, out uint w3);
                *(uint*)scales = w0;
                *(uint*)(scales + 4) = w1;
                *(uint*)(scales + 8) = w2;
                *(uint*)(scales + 12) = w3;
                int sumi = 0;
                for (int h = 0; h < 2; h++)
                {
                    for (int j = 0; j < 4; j++)
                    {
                        int bit = 4 * h + j;
                        for (int half = 0; half < 2; half++)
                        {
                            int isb = 8 * h + 2 * j + half;
                            int s = 0;
                            for (int l = 16 * half; l < 16 * half + 16; l++)
                            {
                                int q = ((qs[32 * h + l] >> (2 * j)) & 3) - (((hm[l] >> bit) & 1) != 0 ? 0 : 4);
                                s += q * q8[128 * h + 32 * j + l];
                            }

                            sumi += (scales[isb] - 32) * s;
                        }
                    }
                }

                acc += Fp16.Load(w + 108) * dy * sumi;
            }

            return acc;
        }
    }

    public struct IQ4XS : IRowDot
    {
        public static int BlockElements => 256;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            fixed (sbyte* kv = Iq4Values)
            {
                for (int i = 0; i < blocks; i++, w += 136, a += ActivationQuant.Q8KBlockBytes)
                {
                    float dy = *(float*)a;
                    sbyte* q8 = (sbyte*)(a + 4);
                    ushort sh = *(ushort*)(w + 2);
                    byte* sl = w + 4;
                    byte* qs = w + 8;
                    int sumi = 0;
                    for (int ib = 0; ib < 8; ib++)
                    {
                        int ls = (((sl[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4)) - 32;
                        int s = 0;
                        for (int j = 0; j < 16; j++)
                        {
                            s += kv[qs[16 * ib + j] & 0xF] * q8[32 * ib + j] + kv[qs[16 * ib + j] >> 4] * q8[32 * ib + 16 + j];
                        }

                        sumi += ls * s;
                    }

                    acc += Fp16.Load(w) * dy * sumi;
                }
            }

            return acc;
        }
    }

    public struct Q8_0 : IRowDot
    {
        public static int BlockElements => 32;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 34, a += 34)
            {
                sbyte* x = (sbyte*)(w + 2);
                sbyte* y = (sbyte*)(a + 2);
                int s = 0;
                for (int j = 0; j < 32; j++)
                {
                    s += x[j] * y[j];
                }

                acc += Fp16.Load(w) * Fp16.Load(a) * s;
            }

            return acc;
        }
    }

    public struct Q4_0 : IRowDot
    {
        public static int BlockElements => 32;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 18, a += 34)
            {
                byte* qs = w + 2;
                sbyte* y = (sbyte*)(a + 2);
                int s = 0;
                for (int j = 0; j < 16; j++)
                {
                    s += ((qs[j] & 0xF) - 8) * y[j] + ((qs[j] >> 4) - 8) * y[j + 16];
                }

                acc += Fp16.Load(w) * Fp16.Load(a) * s;
            }

            return acc;
        }
    }

    public struct Q5_0 : IRowDot
    {
        public static int BlockElements => 32;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 22, a += 34)
            {
                uint qh = Unsafe.ReadUnaligned<uint>(w + 2);
                byte* qs = w + 6;
                sbyte* y = (sbyte*)(a + 2);
                int s = 0;
                for (int j = 0; j < 16; j++)
                {
                    int lo = ((qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16;
                    int hi = ((qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
                    s += lo * y[j] + hi * y[j + 16];
                }

                acc += Fp16.Load(w) * Fp16.Load(a) * s;
            }

            return acc;
        }
    }

    public struct IQ4NL : IRowDot
    {
        public static int BlockElements => 32;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            fixed (sbyte* kv = Iq4Values)
            {
                for (int i = 0; i < blocks; i++, w += 18, a += 34)
                {
                    byte* qs = w + 2;
                    sbyte* y = (sbyte*)(a + 2);
                    int s = 0;
                    for (int j = 0; j < 16; j++)
                    {
                        s += kv[qs[j] & 0xF] * y[j] + kv[qs[j] >> 4] * y[j + 16];
                    }

                    acc += Fp16.Load(w) * Fp16.Load(a) * s;
                }
            }

            return acc;
        }
    }

    public struct MXFP4 : IRowDot
    {
        public static int BlockElements => 32;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            fixed (sbyte* kv = Fp4Values)
            {
                for (int i = 0; i < blocks; i++, w += 17, a += 34)
                {
                    byte* qs = w + 1;
                    sbyte* y = (sbyte*)(a + 2);
                    int s = 0;
                    for (int j = 0; j < 16; j++)
                    {
                        s += kv[qs[j] & 0xF] * y[j] + kv[qs[j] >> 4] * y[j + 16];
                    }

                    acc += E8M0Half(w[0]) * Fp16.Load(a) * s;
                }
            }

            return acc;
        }
    }

    public struct Q4_1 : IRowDot
    {
        public static int BlockElements => 32;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 20, a += 36)
            {
                byte* qs = w + 4;
                sbyte* y = (sbyte*)(a + 4);
                int s = 0;
                for (int j = 0; j < 16; j++)
                {
                    s += (qs[j] & 0xF) * y[j] + (qs[j] >> 4) * y[j + 16];
                }

                acc += Fp16.Load(w) * Fp16.Load(a) * s + Fp16.Load(w + 2) * Fp16.Load(a + 2);
            }

            return acc;
        }
    }

    public struct Q5_1 : IRowDot
    {
        public static int BlockElements => 32;

        public static float Dot(byte* w, byte* a, int blocks)
        {
            float acc = 0;
            for (int i = 0; i < blocks; i++, w += 24, a += 36)
            {
                uint qh = Unsafe.ReadUnaligned<uint>(w + 4);
                byte* qs = w + 8;
                sbyte* y = (sbyte*)(a + 4);
                int s = 0;
                for (int j = 0; j < 16; j++)
                {
                    int lo = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
                    int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
                    s += lo * y[j] + hi * y[j + 16];
                }

                acc += Fp16.Load(w) * Fp16.Load(a) * s + Fp16.Load(w + 2) * Fp16.Load(a + 2);
            }

            return acc;
        }
    }
}
