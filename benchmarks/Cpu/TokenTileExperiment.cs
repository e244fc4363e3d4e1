using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// Experiment (issue #14, item 3): does a tile of eight tokens per q4_K weight decode beat the four-token Dot4 on
/// AVX2 at prefill sizes? Same row tiling as MatDriver; the eight float accumulators live in memory (16 ymm hold the
/// eight int32 sums and the decoded chunk). Checked against ggml vec_dot before timing. Run with <c>cpu-tokentile</c>.
/// </summary>
internal static unsafe class TokenTileExperiment
{
    public static void Run(TextWriter o)
    {
        const int rows = 768, k = 2048, maxTokens = 512;
        var info = GgmlTypeInfo.Get(GgmlType.Q4_K);
        long rowBytes = info.RowBytes(k);
        using var w = new NativeBuffer(rowBytes * rows);
        using var wf = new NativeBuffer(4L * k * rows);
        var rng = new Random(1);
        for (long i = 0; i < (long)k * rows; i++)
        {
            wf.Floats[i] = (float)(rng.NextDouble() - 0.5);
        }

        GgmlCpuOps.QuantizeRows((int)GgmlType.Q4_K, wf.Floats, w.Pointer, rows, k);
        long ab = ActivationQuant.RowBytes(GgmlType.Q8_K, k);
        using var x = new NativeBuffer(4L * k);
        using var act = new NativeBuffer(ab * maxTokens);
        for (int t = 0; t < maxTokens; t++)
        {
            for (int i = 0; i < k; i++)
            {
                x.Floats[i] = (float)(rng.NextDouble() - 0.5);
            }

            ActivationQuant.Quantize(GgmlType.Q8_K, x.Floats, act.Pointer + t * ab, k);
        }

        var kern = CpuKernels.Generic(GgmlType.Q4_K, SimdLevel.Avx2);
        using var y4 = new NativeBuffer(4L * rows * maxTokens);
        using var y8 = new NativeBuffer(4L * rows * maxTokens);
        kern.Run(k, w.Pointer, rowBytes, rows, act.Pointer, ab, 32, y4.Floats, rows);
        Run8(k, w.Pointer, rowBytes, rows, act.Pointer, ab, 32, y8.Floats, rows);
        double maxDiff = 0;
        for (int i = 0; i < 32 * rows; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(y4.Floats[i] - y8.Floats[i]));
        }

        o.WriteLine($"q4_K ×8 vs ×4 max |diff| over 32 tokens: {maxDiff:E2}");
        foreach (int tokens in new[] { 32, 512 })
        {
            double t4 = Min(() => kern.Run(k, w.Pointer, rowBytes, rows, act.Pointer, ab, tokens, y4.Floats, rows));
            double t8 = Min(() => Run8(k, w.Pointer, rowBytes, rows, act.Pointer, ab, tokens, y8.Floats, rows));
            o.WriteLine($"q4_K {rows}x{k} x{tokens,-3} avx2×4 {t4,9:F1} us  avx2×8 {t8,9:F1} us  ×8/×4 {t8 / t4:F2}");
        }
    }

    private static double Min(Action a)
    {
        a();
        double best = double.MaxValue;
        for (int i = 0; i < 15; i++)
        {
            long s = Stopwatch.GetTimestamp();
            a();
            best = Math.Min(best, Stopwatch.GetElapsedTime(s).TotalMicroseconds);
        }

        return best;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run8(int k, byte* w, long rowBytes, int rows, byte* act, long actStride, int tokens, float* y, long yStride)
    {
        int blocks = k / 256;
        byte** a = stackalloc byte*[8];
        float* r = stackalloc float[8];
        for (int r0 = 0; r0 < rows; r0 += MatDriver.RowTile)
        {
            int r1 = Math.Min(rows, r0 + MatDriver.RowTile);
            for (int t = 0; t + 8 <= tokens; t += 8)
            {
                for (int i = 0; i < 8; i++)
                {
                    a[i] = act + (t + i) * actStride;
                }

                for (int row = r0; row < r1; row++)
                {
                    Dot8(w + row * rowBytes, a, blocks, r);
                    for (int i = 0; i < 8; i++)
                    {
                        y[(t + i) * yStride + row] = r[i];
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Mul(Vector256<byte> x, byte* y, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, Avx.LoadVector256((sbyte*)y)), scale);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot8(byte* w, byte** a, int blocks, float* r)
    {
        var m4 = Vector256.Create((byte)0x0F);
        Vector256<float>* f = stackalloc Vector256<float>[8];
        Vector128<float>* fm = stackalloc Vector128<float>[8];
        for (int t = 0; t < 8; t++)
        {
            f[t] = default;
            fm[t] = default;
        }

        for (int b = 0; b < blocks; b++, w += Q4KLayout.BlockBytes)
        {
            Avx2Dots.K4Scales(w + Q4KLayout.ScalesOffset, out var scales, out var mins);
            float d = Fp16.ToFloat(*(ushort*)(w + Q4KLayout.DOffset)), dmin = -Fp16.ToFloat(*(ushort*)(w + Q4KLayout.DMinOffset));
            long ao = (long)b * Q8KLayout.BlockBytes;
            for (int t = 0; t < 8; t++)
            {
                byte* yt = a[t] + ao;
                // The mins as the product kernels take them (ggml's steps): bsums added in pairs, a four-lane accumulator.
                short* bs = (short*)(yt + Q8KLayout.BSumsOffset);
                var prod = Sse2.MultiplyAddAdjacent(mins, Ssse3.HorizontalAdd(Sse2.LoadVector128(bs), Sse2.LoadVector128(bs + 8)));
                fm[t] = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(prod), Vector128.Create(dmin * *(float*)yt), fm[t]);
            }

            byte* y0 = a[0] + ao, y1 = a[1] + ao, y2 = a[2] + ao, y3 = a[3] + ao, y4 = a[4] + ao, y5 = a[5] + ao, y6 = a[6] + ao, y7 = a[7] + ao;
            Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            var ws = Vector256.Create((ushort)0x0100).AsByte();
            for (int c = 0; c < 4; c++, ws += Vector256.Create((byte)4))
            {
                var q = Avx.LoadVector256(w + Q4KLayout.QsOffset + 32 * c);
                var lo = q & m4;
                var hi = Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4;
                var sl = Avx2.Shuffle(scales.AsByte(), ws).AsInt16();
                var sh = Avx2.Shuffle(scales.AsByte(), ws + Vector256.Create((byte)2)).AsInt16();
                int o = Q8KLayout.QsOffset + 64 * c;
                s0 += Mul(lo, y0 + o, sl) + Mul(hi, y0 + o + 32, sh);
                s1 += Mul(lo, y1 + o, sl) + Mul(hi, y1 + o + 32, sh);
                s2 += Mul(lo, y2 + o, sl) + Mul(hi, y2 + o + 32, sh);
                s3 += Mul(lo, y3 + o, sl) + Mul(hi, y3 + o + 32, sh);
                s4 += Mul(lo, y4 + o, sl) + Mul(hi, y4 + o + 32, sh);
                s5 += Mul(lo, y5 + o, sl) + Mul(hi, y5 + o + 32, sh);
                s6 += Mul(lo, y6 + o, sl) + Mul(hi, y6 + o + 32, sh);
                s7 += Mul(lo, y7 + o, sl) + Mul(hi, y7 + o + 32, sh);
            }

            f[0] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0), Vector256.Create(d * *(float*)y0), f[0]);
            f[1] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1), Vector256.Create(d * *(float*)y1), f[1]);
            f[2] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s2), Vector256.Create(d * *(float*)y2), f[2]);
            f[3] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s3), Vector256.Create(d * *(float*)y3), f[3]);
            f[4] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s4), Vector256.Create(d * *(float*)y4), f[4]);
            f[5] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s5), Vector256.Create(d * *(float*)y5), f[5]);
            f[6] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s6), Vector256.Create(d * *(float*)y6), f[6]);
            f[7] = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s7), Vector256.Create(d * *(float*)y7), f[7]);
        }

        for (int t = 0; t < 8; t++)
        {
            r[t] = Avx2Dots.HSum8(f[t]) + Avx2Dots.HSum4(fm[t]);
        }
    }
}
