using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// F32, F16 and BF16 weight rows dotted with float activations (the activation row stays F32; ggml rounds it
/// to the weight type first, which only differs in the last bits). Cross-platform Vector256 code: AVX2 on
/// x86, two 128-bit halves on Arm64.
/// </summary>
internal static unsafe class FloatDots
{
    public struct F32 : IRowDot
    {
        public static int BlockElements => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int n)
        {
            float* x = (float*)w, y = (float*)a;
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), acc1);
            }

            float r = Vector256.Sum(acc0 + acc1);
            for (; i < n; i++)
            {
                r += x[i] * y[i];
            }

            return r;
        }
    }

    public struct F16 : IRowDot
    {
        public static int BlockElements => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int n)
        {
            ushort* x = (ushort*)w;
            float* y = (float*)a;
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                var h = Vector256.Load(x + i);
                acc0 = Vector256.FusedMultiplyAdd(HalfToSingle(Vector256.WidenLower(h)), Vector256.Load(y + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd(HalfToSingle(Vector256.WidenUpper(h)), Vector256.Load(y + i + 8), acc1);
            }

            float r = Vector256.Sum(acc0 + acc1);
            for (; i < n; i++)
            {
                r += Fp16.ToFloat(x[i]) * y[i];
            }

            return r;
        }

        // Exact half → float: move exponent and mantissa into place, re-bias by multiplying with 2^112 (which also
        // normalizes subnormals), force the exponent of Inf/NaN to all ones, restore the sign.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector256<float> HalfToSingle(Vector256<uint> h)
        {
            var em = (h & Vector256.Create(0x7fffu)) << 13;
            var f = em.AsSingle() * Vector256.Create(BitConverter.UInt32BitsToSingle((127u + 112u) << 23));
            var infNan = Vector256.Equals(h & Vector256.Create(0x7c00u), Vector256.Create(0x7c00u));
            var bits = f.AsUInt32() | (infNan & Vector256.Create(0x7f800000u));
            return (bits | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
        }
    }

    public struct BF16 : IRowDot
    {
        public static int BlockElements => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Dot(byte* w, byte* a, int n)
        {
            ushort* x = (ushort*)w;
            float* y = (float*)a;
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                var h = Vector256.Load(x + i);
                acc0 = Vector256.FusedMultiplyAdd((Vector256.WidenLower(h) << 16).AsSingle(), Vector256.Load(y + i), acc0);
                acc1 = Vector256.FusedMultiplyAdd((Vector256.WidenUpper(h) << 16).AsSingle(), Vector256.Load(y + i + 8), acc1);
            }

            float r = Vector256.Sum(acc0 + acc1);
            for (; i < n; i++)
            {
                r += Fp16.BF16ToFloat(x[i]) * y[i];
            }

            return r;
        }
    }
}
