using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// AVX2+FMA kernels of the float weight formats (F32, F16, BF16) against F32 activations, one token and four
/// (<see cref="IRowDot4.Dot4"/>: each weight vector is loaded and converted once, then FMA'd into four token
/// accumulators). ggml rounds the activations to the weight type first (f16 for f16 weights, bf16 for bf16); Ferrum
/// keeps them F32, so the products are those of the exact weights and activations (see docs/numerics).
/// </summary>
/// <remarks>
/// .NET 10 does not expose F16C (vcvtph2ps), so halves are converted with integer ops, exactly:
/// the half, sign-extended into a 32-bit lane and shifted left by 13, has its exponent and mantissa where a float's
/// low exponent bits and mantissa go and its sign in bit 31 (bits 28..30 hold copies of it, cleared by one AND).
/// Read as a float that is the half's value times 2^-112 (subnormal halves become float subnormals, still exact), so one
/// multiply by 2^112 gives the value — for every finite half, zeros and subnormals included. Inf and NaN halves (exponent
/// 31) would come out as finite numbers near 2^16: the loop keeps the running maximum of the halves' magnitude bits
/// (one 16-bit op per 16 weights) and a row that holds one is redone by the exact scalar-conversion kernel
/// (<see cref="FloatDots.F16"/>), so Inf and NaN weights propagate as in ggml.
/// </remarks>
internal static unsafe class Avx2FloatDots
{
    // 2^112: re-biases a half's exponent (15) to a float's (127).
    private const float HalfScale = 5.192296858534828e33f;

    // |half| bits ≥ 0x7C00 (after h + h: ≥ 0xF800): Inf or NaN.
    private const ushort SpecialTwice = 0xF800;

    // Eight halves at p to floats. vpmovzxwd puts each half in the low 16 bits of a lane; vpmaddwd with (2^13, 0) then
    // yields the sign-extended half times 2^13 (a multiply-pipe op where vpmovsxwd + vpslld would load the shift pipe
    // twice; measured ~5% faster on Zen 3). AND clears the sign copies in bits 28..30, the multiply re-biases.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Half8(ushort* p, Vector256<short> shift13, Vector256<int> keep, Vector256<float> scale) =>
        Avx.Multiply(Avx2.And(Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int32(p).AsInt16(), shift13), keep).AsSingle(), scale);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> BFloat8(ushort* p) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(p), 16).AsSingle();

    // Magnitude bits doubled (the sign shifted out), running unsigned maximum.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ushort> MaxMagnitude(ushort* p, Vector256<ushort> m)
    {
        var h = Avx.LoadVector256(p);
        return Avx2.Max(m, Avx2.Add(h, h));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool HasSpecial(Vector256<ushort> m)
    {
        var half = Sse41.Max(m.GetLower(), m.GetUpper());
        return Sse41.MinHorizontal(Sse2.Xor(half, Vector128<ushort>.AllBitsSet)).ToScalar() <= (ushort)(SpecialTwice ^ 0xFFFF);
    }

    public struct F32 : IRowDot4
    {
        public static int BlockElements => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int n)
        {
            float* x = (float*)w, y = (float*)a;
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            int i = 0;
            for (; i + 32 <= n; i += 32)
            {
                c0 = Fma.MultiplyAdd(Avx.LoadVector256(x + i), Avx.LoadVector256(y + i), c0);
                c1 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 8), Avx.LoadVector256(y + i + 8), c1);
                c2 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 16), Avx.LoadVector256(y + i + 16), c2);
                c3 = Fma.MultiplyAdd(Avx.LoadVector256(x + i + 24), Avx.LoadVector256(y + i + 24), c3);
            }

            for (; i + 8 <= n; i += 8)
            {
                c0 = Fma.MultiplyAdd(Avx.LoadVector256(x + i), Avx.LoadVector256(y + i), c0);
            }

            float r = Vector256.Sum((c0 + c1) + (c2 + c3));
            for (; i < n; i++)
            {
                r += x[i] * y[i];
            }

            return r;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int n, float* r)
        {
            float* x = (float*)w, y0 = (float*)a[0], y1 = (float*)a[1], y2 = (float*)a[2], y3 = (float*)a[3];
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default;
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                var v = Avx.LoadVector256(x + i);
                var u = Avx.LoadVector256(x + i + 8);
                c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(y0 + i), c0);
                c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(y1 + i), c1);
                c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(y2 + i), c2);
                c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(y3 + i), c3);
                d0 = Fma.MultiplyAdd(u, Avx.LoadVector256(y0 + i + 8), d0);
                d1 = Fma.MultiplyAdd(u, Avx.LoadVector256(y1 + i + 8), d1);
                d2 = Fma.MultiplyAdd(u, Avx.LoadVector256(y2 + i + 8), d2);
                d3 = Fma.MultiplyAdd(u, Avx.LoadVector256(y3 + i + 8), d3);
            }

            if (i + 8 <= n)
            {
                var v = Avx.LoadVector256(x + i);
                c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(y0 + i), c0);
                c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(y1 + i), c1);
                c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(y2 + i), c2);
                c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(y3 + i), c3);
                i += 8;
            }

            float r0 = Vector256.Sum(c0 + d0), r1 = Vector256.Sum(c1 + d1), r2 = Vector256.Sum(c2 + d2), r3 = Vector256.Sum(c3 + d3);
            for (; i < n; i++)
            {
                float v = x[i];
                r0 += v * y0[i];
                r1 += v * y1[i];
                r2 += v * y2[i];
                r3 += v * y3[i];
            }

            r[0] = r0;
            r[1] = r1;
            r[2] = r2;
            r[3] = r3;
        }
    }

    public struct F16 : IRowDot4
    {
        public static int BlockElements => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int n)
        {
            ushort* x = (ushort*)w;
            float* y = (float*)a;
            var keep = Vector256.Create(unchecked((int)0x8FFFFFFF));
            var scale = Vector256.Create(HalfScale);
            var shift13 = Vector256.Create(1 << 13).AsInt16();
            Vector256<ushort> m = default;
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            int i = 0;
            for (; i + 32 <= n; i += 32)
            {
                m = MaxMagnitude(x + i, m);
                m = MaxMagnitude(x + i + 16, m);
                c0 = Fma.MultiplyAdd(Half8(x + i, shift13, keep, scale), Avx.LoadVector256(y + i), c0);
                c1 = Fma.MultiplyAdd(Half8(x + i + 8, shift13, keep, scale), Avx.LoadVector256(y + i + 8), c1);
                c2 = Fma.MultiplyAdd(Half8(x + i + 16, shift13, keep, scale), Avx.LoadVector256(y + i + 16), c2);
                c3 = Fma.MultiplyAdd(Half8(x + i + 24, shift13, keep, scale), Avx.LoadVector256(y + i + 24), c3);
            }

            if (HasSpecial(m))
            {
                return FloatDots.F16.Dot(w, a, n);
            }

            float r = Vector256.Sum((c0 + c1) + (c2 + c3));
            for (; i < n; i++)
            {
                r += Fp16.ToFloat(x[i]) * y[i];
            }

            return r;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int n, float* r)
        {
            ushort* x = (ushort*)w;
            float* y0 = (float*)a[0], y1 = (float*)a[1], y2 = (float*)a[2], y3 = (float*)a[3];
            var keep = Vector256.Create(unchecked((int)0x8FFFFFFF));
            var scale = Vector256.Create(HalfScale);
            var shift13 = Vector256.Create(1 << 13).AsInt16();
            Vector256<ushort> m = default;
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default;
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                m = MaxMagnitude(x + i, m);
                var v = Half8(x + i, shift13, keep, scale);
                var u = Half8(x + i + 8, shift13, keep, scale);
                c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(y0 + i), c0);
                c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(y1 + i), c1);
                c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(y2 + i), c2);
                c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(y3 + i), c3);
                d0 = Fma.MultiplyAdd(u, Avx.LoadVector256(y0 + i + 8), d0);
                d1 = Fma.MultiplyAdd(u, Avx.LoadVector256(y1 + i + 8), d1);
                d2 = Fma.MultiplyAdd(u, Avx.LoadVector256(y2 + i + 8), d2);
                d3 = Fma.MultiplyAdd(u, Avx.LoadVector256(y3 + i + 8), d3);
            }

            if (HasSpecial(m))
            {
                for (int t = 0; t < 4; t++)
                {
                    r[t] = FloatDots.F16.Dot(w, a[t], n);
                }

                return;
            }

            float r0 = Vector256.Sum(c0 + d0), r1 = Vector256.Sum(c1 + d1), r2 = Vector256.Sum(c2 + d2), r3 = Vector256.Sum(c3 + d3);
            for (; i < n; i++)
            {
                float v = Fp16.ToFloat(x[i]);
                r0 += v * y0[i];
                r1 += v * y1[i];
                r2 += v * y2[i];
                r3 += v * y3[i];
            }

            r[0] = r0;
            r[1] = r1;
            r[2] = r2;
            r[3] = r3;
        }
    }

    public struct BF16 : IRowDot4
    {
        public static int BlockElements => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int n)
        {
            ushort* x = (ushort*)w;
            float* y = (float*)a;
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            int i = 0;
            for (; i + 32 <= n; i += 32)
            {
                c0 = Fma.MultiplyAdd(BFloat8(x + i), Avx.LoadVector256(y + i), c0);
                c1 = Fma.MultiplyAdd(BFloat8(x + i + 8), Avx.LoadVector256(y + i + 8), c1);
                c2 = Fma.MultiplyAdd(BFloat8(x + i + 16), Avx.LoadVector256(y + i + 16), c2);
                c3 = Fma.MultiplyAdd(BFloat8(x + i + 24), Avx.LoadVector256(y + i + 24), c3);
            }

            float r = Vector256.Sum((c0 + c1) + (c2 + c3));
            for (; i < n; i++)
            {
                r += Fp16.BF16ToFloat(x[i]) * y[i];
            }

            return r;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Dot4(byte* w, byte** a, int n, float* r)
        {
            ushort* x = (ushort*)w;
            float* y0 = (float*)a[0], y1 = (float*)a[1], y2 = (float*)a[2], y3 = (float*)a[3];
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            Vector256<float> d0 = default, d1 = default, d2 = default, d3 = default;
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                var v = BFloat8(x + i);
                var u = BFloat8(x + i + 8);
                c0 = Fma.MultiplyAdd(v, Avx.LoadVector256(y0 + i), c0);
                c1 = Fma.MultiplyAdd(v, Avx.LoadVector256(y1 + i), c1);
                c2 = Fma.MultiplyAdd(v, Avx.LoadVector256(y2 + i), c2);
                c3 = Fma.MultiplyAdd(v, Avx.LoadVector256(y3 + i), c3);
                d0 = Fma.MultiplyAdd(u, Avx.LoadVector256(y0 + i + 8), d0);
                d1 = Fma.MultiplyAdd(u, Avx.LoadVector256(y1 + i + 8), d1);
                d2 = Fma.MultiplyAdd(u, Avx.LoadVector256(y2 + i + 8), d2);
                d3 = Fma.MultiplyAdd(u, Avx.LoadVector256(y3 + i + 8), d3);
            }

            float r0 = Vector256.Sum(c0 + d0), r1 = Vector256.Sum(c1 + d1), r2 = Vector256.Sum(c2 + d2), r3 = Vector256.Sum(c3 + d3);
            for (; i < n; i++)
            {
                float v = Fp16.BF16ToFloat(x[i]);
                r0 += v * y0[i];
                r1 += v * y1[i];
                r2 += v * y2[i];
                r3 += v * y3[i];
            }

            r[0] = r0;
            r[1] = r1;
            r[2] = r2;
            r[3] = r3;
        }
    }
}
