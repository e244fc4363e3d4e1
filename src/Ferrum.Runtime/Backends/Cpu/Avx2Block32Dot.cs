using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The AVX2 dot of every 32-element block format (<typeparamref name="TB"/> decodes one block) with Q8_0
/// activations, or Q8_1 for the formats with a minimum. Per block and token: one vpmaddubsw (u8×s8→s16, signed
/// weights through |x|·sign(y, x)), one vpmaddwd against ones (→ 8 s32), one conversion and one FMA with
/// d_w·d_y. <see cref="Dot4"/> decodes each block once (and takes |x| once) for four activation rows,
/// <see cref="Dot2"/> for a batch's leftover pair.
/// </summary>
internal unsafe struct Avx2Block32Dot<TB> : IRowDot4
    where TB : struct, IBlock32
{
    public static int BlockElements => 32;

    // Q8_0: f16 d, 32 qs. Q8_1: f16 d, f16 s (= d·Σqs), 32 qs.
    private static int ActBytes
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TB.HasMin ? Q8_1Layout.BlockBytes : Q8_0Layout.BlockBytes;
    }

    private static int ActQs
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => TB.HasMin ? Q8_1Layout.QsOffset : Q8_0Layout.QsOffset;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(byte* w, byte* a, int blocks)
    {
        var ones = Vector256.Create((short)1);
        float* f16 = Fp16.HalfTable;
        var acc = Vector256<float>.Zero;
        float accm = 0;
        for (int b = 0; b < blocks; b++, w += TB.BlockBytes, a += ActBytes)
        {
            var x = TB.Values(w);
            acc = Fma.MultiplyAdd(Sum(x, Prepared(x), a, ones), Vector256.Create(TB.Scale(w, f16) * H(f16, a)), acc);
            if (TB.HasMin)
            {
                accm += TB.Min(w, f16) * H(f16, a + Q8_1Layout.SOffset);
            }
        }

        return TB.HasMin ? Vector256.Sum(acc) + accm : Vector256.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4(byte* w, byte** a, int blocks, float* r)
    {
        var ones = Vector256.Create((short)1);
        float* f16 = Fp16.HalfTable;
        byte* a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        for (int b = 0; b < blocks; b++, w += TB.BlockBytes, a0 += ActBytes, a1 += ActBytes, a2 += ActBytes, a3 += ActBytes)
        {
            var x = TB.Values(w);
            var ux = Prepared(x);
            float d = TB.Scale(w, f16);
            f0 = Fma.MultiplyAdd(Sum(x, ux, a0, ones), Vector256.Create(d * H(f16, a0)), f0);
            f1 = Fma.MultiplyAdd(Sum(x, ux, a1, ones), Vector256.Create(d * H(f16, a1)), f1);
            f2 = Fma.MultiplyAdd(Sum(x, ux, a2, ones), Vector256.Create(d * H(f16, a2)), f2);
            f3 = Fma.MultiplyAdd(Sum(x, ux, a3, ones), Vector256.Create(d * H(f16, a3)), f3);
            if (TB.HasMin)
            {
                float m = TB.Min(w, f16);
                m0 += m * H(f16, a0 + Q8_1Layout.SOffset);
                m1 += m * H(f16, a1 + Q8_1Layout.SOffset);
                m2 += m * H(f16, a2 + Q8_1Layout.SOffset);
                m3 += m * H(f16, a3 + Q8_1Layout.SOffset);
            }
        }

        r[0] = Vector256.Sum(f0) + m0;
        r[1] = Vector256.Sum(f1) + m1;
        r[2] = Vector256.Sum(f2) + m2;
        r[3] = Vector256.Sum(f3) + m3;
    }

    public static bool HasDot2 => true;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r)
    {
        var ones = Vector256.Create((short)1);
        float* f16 = Fp16.HalfTable;
        Vector256<float> f0 = default, f1 = default;
        float m0 = 0, m1 = 0;
        for (int b = 0; b < blocks; b++, w += TB.BlockBytes, a0 += ActBytes, a1 += ActBytes)
        {
            var x = TB.Values(w);
            var ux = Prepared(x);
            float d = TB.Scale(w, f16);
            f0 = Fma.MultiplyAdd(Sum(x, ux, a0, ones), Vector256.Create(d * H(f16, a0)), f0);
            f1 = Fma.MultiplyAdd(Sum(x, ux, a1, ones), Vector256.Create(d * H(f16, a1)), f1);
            if (TB.HasMin)
            {
                float m = TB.Min(w, f16);
                m0 += m * H(f16, a0 + Q8_1Layout.SOffset);
                m1 += m * H(f16, a1 + Q8_1Layout.SOffset);
            }
        }

        r[0] = Vector256.Sum(f0) + m0;
        r[1] = Vector256.Sum(f1) + m1;
    }

    // The f16 at p as float (f16 = Fp16.HalfTable).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float H(float* f16, byte* p) => f16[Unsafe.ReadUnaligned<ushort>(p)];

    // The unsigned operand of vpmaddubsw: |x| for signed weights (the sign moves onto the activation), the codes as they are otherwise.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Prepared(Vector256<sbyte> x) => TB.HasMin ? x.AsByte() : Avx2.Abs(x);

    // Σ x·y of one block and one activation block, as 8 float lanes (exact integers).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sum(Vector256<sbyte> x, Vector256<byte> ux, byte* ablock, Vector256<short> ones)
    {
        // Two separate expressions so the JIT folds the activation load into vpmaddubsw / vpsignb.
        var p = TB.HasMin
            ? Avx2.MultiplyAddAdjacent(ux, Avx.LoadVector256((sbyte*)(ablock + ActQs)))
            : Avx2.MultiplyAddAdjacent(ux, Avx2.Sign(Avx.LoadVector256((sbyte*)(ablock + ActQs)), x));
        return Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(p, ones));
    }
}
