using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The float steps of ggml's AVX2 vec_dot of the 256-element formats, so that a K-quant dot gives the bits llama.cpp
/// gives when it evaluates a prompt one token at a time: its horizontal sums (the pairing of lanes decides the
/// rounding) and the q4_K/q5_K mins terms, which ggml keeps apart from the codes' accumulator.
/// </summary>
internal static unsafe partial class Avx2Dots
{
    /// <summary>ggml's hsum_float_8: high half + low half, then lanes 0+2 and 1+3, then those two.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float HSum8(Vector256<float> v) => HSum4(Sse.Add(v.GetUpper(), v.GetLower()));

    /// <summary>ggml's four-lane float sum (movehl, then movehdup): (v0 + v2) + (v1 + v3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float HSum4(Vector128<float> v)
    {
        v = Sse.Add(v, Sse.MoveHighToLow(v, v));
        return Sse.AddScalar(v, Sse3.MoveHighAndDuplicate(v)).ToScalar();
    }

    /// <summary>
    /// The q4_K/q5_K mins of one Q8_K block as ggml forms them: the 16 bsums added in pairs (vphaddw), times the 8 mins
    /// (vpmaddwd), four int32 lanes each the sum of two sub-blocks' min · bsum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> MinsProd(byte* y, Vector128<short> mins)
    {
        short* bs = (short*)(y + Q8KLayout.BSumsOffset);
        return Sse2.MultiplyAddAdjacent(mins, Ssse3.HorizontalAdd(Sse2.LoadVector128(bs), Sse2.LoadVector128(bs + 8)));
    }

    /// <summary>q4_K: acc_m + cvt(mins · bsums) · (−dmin·dy), in four lanes (ggml's acc_m).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MinsTerm(byte* y, Vector128<short> mins, float negDmin, Vector128<float> accM) =>
        Fma.MultiplyAdd(Sse2.ConvertToVector128Single(MinsProd(y, mins)), Vector128.Create(negDmin * Dy(y)), accM);

    /// <summary>
    /// q4_K, two tokens in one register: ggml's four acc_m lanes k of token 0 in lanes {0, 1, 4, 5} (k = 0, 1, 2, 3),
    /// token 1's in {2, 3, 6, 7}; each lane holds and rounds exactly what ggml's lane holds (the lane pairs of the
    /// 8-lane mins · bsums added by vphaddd are its lanes), two tokens per FMA. <see cref="MinsPairSplit"/> reads them out.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MinsTermPair(byte* y0, byte* y1, Vector256<short> minPairs, float negDmin, Vector256<float> accM)
    {
        var prod = Avx2.HorizontalAdd(MinsLanes(y0, minPairs), MinsLanes(y1, minPairs));
        var dy = Sse.UnpackLow(Vector128.CreateScalarUnsafe(Dy(y0)), Vector128.CreateScalarUnsafe(Dy(y1)));
        var k = Sse.UnpackLow(dy, dy) * negDmin;
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(prod), Vector256.Create(k, k), accM);
    }

    /// <summary>The two tokens' ggml acc_m (lanes k = 0..3) of a <see cref="MinsTermPair"/> accumulator, summed as ggml sums them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MinsPairSplit(Vector256<float> accM, out float m0, out float m1)
    {
        var lo = accM.GetLower().AsDouble();
        var hi = accM.GetUpper().AsDouble();
        m0 = HSum4(Sse2.UnpackLow(lo, hi).AsSingle());
        m1 = HSum4(Sse2.UnpackHigh(lo, hi).AsSingle());
    }

    /// <summary>
    /// q5_K: the mins · bsums of one Q8_K block in 8 int32 lanes (min i times bsums 2i and 2i+1); only their total
    /// is used, which is exact in any order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinsLanes(byte* y, Vector256<short> minPairs) =>
        Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(y + Q8KLayout.BSumsOffset)), minPairs);

    /// <summary>q5_K: summs + (−dmin·dy) · Σ mins · bsums, one scalar per block (ggml's summs, contracted to an FMA).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MinsScalar(byte* y, Vector128<short> mins, float negDmin, float summs)
    {
        var p = MinsProd(y, mins);
        int total = p.ToScalar() + p.GetElement(1) + p.GetElement(2) + p.GetElement(3);
        return MathF.FusedMultiplyAdd(negDmin * Dy(y), total, summs);
    }

    /// <summary>
    /// q5_K, four tokens: lane t of <paramref name="summs"/> is token t's summs, advanced as <see cref="MinsScalar"/>
    /// does (the lane-wise FMA rounds as the scalar one), the four integer totals formed at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MinsScalar4(byte* y0, byte* y1, byte* y2, byte* y3, Vector256<short> minPairs, float negDmin, Vector128<float> summs)
    {
        var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(MinsLanes(y0, minPairs), MinsLanes(y1, minPairs)), Avx2.HorizontalAdd(MinsLanes(y2, minPairs), MinsLanes(y3, minPairs)));
        var totals = h.GetLower() + h.GetUpper();
        var k = Vector128.Create(Dy(y0), Dy(y1), Dy(y2), Dy(y3)) * negDmin;
        return Fma.MultiplyAdd(k, Sse2.ConvertToVector128Single(totals), summs);
    }

    /// <summary>q5_K, two tokens: lanes 0 and 1 of <paramref name="summs"/> as <see cref="MinsScalar4"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MinsScalar2(byte* y0, byte* y1, Vector256<short> minPairs, float negDmin, Vector128<float> summs)
    {
        var h = Avx2.HorizontalAdd(MinsLanes(y0, minPairs), MinsLanes(y1, minPairs));
        var t = h.GetLower() + h.GetUpper();
        var totals = Ssse3.HorizontalAdd(t, t);
        var k = Vector128.Create(Dy(y0), Dy(y1), Dy(y0), Dy(y1)) * negDmin;
        return Fma.MultiplyAdd(k, Sse2.ConvertToVector128Single(totals), summs);
    }
}
