using System.Diagnostics;
using System.Runtime.InteropServices;
using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Times every candidate kernel of each weight format on this CPU and keeps the fastest: the shape-generic kernel
/// of each SIMD level the format's row has and the machine supports (AVX-512 ×4, AVX2, Vector128, scalar). Kept
/// cheap so a first run stays near two seconds for all formats: one thread, weights of <see cref="WeightBytes"/>
/// (bigger than L2, so the rows stream), rows of 2048 and 768, a 1-token and an 8-token batch, few repeats, and
/// candidates more than <see cref="DropFactor"/>× slower than the best at 1 token are not timed at 8 tokens.
/// </summary>
public static unsafe class CpuKernelTuner
{
    /// <summary>Bytes of weights each timed product reads.</summary>
    public const long WeightBytes = 4L << 20;

    /// <summary>A candidate this much slower than the best at 1 token is dropped before the 8-token round.</summary>
    public const double DropFactor = 1.5;

    private static readonly int[] RowLengths = [2048, 768];

    // Stop repeating one product after this many runs or this much time (the minimum run is kept).
    private const int MaxRepeats = 5;
    private static readonly long RepeatBudgetTicks = Stopwatch.Frequency / 100;

    /// <summary>Measures <paramref name="formats"/> (every CPU format when null), calling <paramref name="progress"/> after each.</summary>
    public static CpuTuningResult Measure(IEnumerable<GgmlType>? formats = null, Action<int, int, CpuKernelDecision>? progress = null)
    {
        var list = (formats ?? CpuKernels.Formats).ToList();
        var decisions = new List<CpuKernelDecision>(list.Count);
        byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)WeightBytes, 64);
        try
        {
            Fill(w, WeightBytes);
            for (int i = 0; i < list.Count; i++)
            {
                var d = MeasureFormat(CpuFormatTable.Get(list[i]), w);
                decisions.Add(d);
                progress?.Invoke(i + 1, list.Count, d);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(w);
        }

        return new CpuTuningResult(CpuIdentity.Current, DateTime.UtcNow, WeightBytes, decisions);
    }

    private static CpuKernelDecision MeasureFormat(CpuFormatRow row, byte* w)
    {
        // Highest level first; a level registered with the same dot code as a higher one (f32's scalar and
        // Vector128 rows) is the same kernel and is not timed twice.
        var candidates = row.Levels.Where(l => l <= CpuSimd.Supported).Reverse().Select(l => row.At(l)!).DistinctBy(k => k.Code).ToList();
        if (candidates.Count == 1)
        {
            return new CpuKernelDecision(row.Type, candidates[0].Level, []);
        }

        const int tokens = 8;
        int kMax = RowLengths.Max();
        long actRow = row.ActivationRowBytes(kMax);
        byte* act = (byte*)NativeMemory.AlignedAlloc((nuint)(actRow * tokens), 64);
        float* x = (float*)NativeMemory.AlignedAlloc((nuint)(4L * kMax), 64);
        int outRows = (int)(WeightBytes / GgmlTypeInfo.Get(row.Type).RowBytes(RowLengths.Min()));
        float* y = (float*)NativeMemory.AlignedAlloc((nuint)(4L * outRows * tokens), 64);
        try
        {
            var t1 = new double[candidates.Count];
            var t8 = new double?[candidates.Count];
            foreach (int k in RowLengths)
            {
                for (int t = 0; t < tokens; t++)
                {
                    for (int j = 0; j < k; j++)
                    {
                        x[j] = MathF.Sin(0.37f * j + t) * 0.5f;
                    }

                    row.QuantizeActivation(x, act + t * actRow, k);
                }

                for (int c = 0; c < candidates.Count; c++)
                {
                    t1[c] += Time(candidates[c], w, k, act, actRow, 1, y);
                }
            }

            double best1 = t1.Min();
            foreach (int k in RowLengths)
            {
                for (int c = 0; c < candidates.Count; c++)
                {
                    if (t1[c] <= DropFactor * best1)
                    {
                        t8[c] = (t8[c] ?? 0) + Time(candidates[c], w, k, act, actRow, tokens, y);
                    }
                }
            }

            // Score: each batch size weighs the same, as a ratio to the best candidate at that size.
            double best8 = t8.Where(v => v.HasValue).Min(v => v!.Value);
            int win = 0;
            double winScore = double.MaxValue;
            for (int c = 0; c < candidates.Count; c++)
            {
                if (t8[c] is { } v && t1[c] / best1 + v / best8 is var score && score < winScore)
                {
                    win = c;
                    winScore = score;
                }
            }

            var timings = candidates.Select((k, c) => new CpuKernelTiming(k.Level, t1[c], t8[c])).OrderBy(tm => tm.Microseconds8 ?? double.MaxValue).ThenBy(tm => tm.Microseconds1).ToList();
            return new CpuKernelDecision(row.Type, candidates[win].Level, timings);
        }
        finally
        {
            NativeMemory.AlignedFree(act);
            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(y);
        }
    }

    // Minimum time, in µs, of one product over all the weights (rows of k), after one small call that compiles it.
    private static double Time(CpuMatKernel kernel, byte* w, int k, byte* act, long actRow, int tokens, float* y)
    {
        long rowBytes = GgmlTypeInfo.Get(kernel.WeightType).RowBytes(k);
        int rows = (int)(WeightBytes / rowBytes);
        kernel.Run(k, w, rowBytes, 1, act, actRow, tokens, y, rows);
        long best = long.MaxValue, start = Stopwatch.GetTimestamp();
        for (int rep = 0; rep < MaxRepeats && (rep == 0 || Stopwatch.GetTimestamp() - start < RepeatBudgetTicks); rep++)
        {
            long t0 = Stopwatch.GetTimestamp();
            kernel.Run(k, w, rowBytes, rows, act, actRow, tokens, y, rows);
            best = Math.Min(best, Stopwatch.GetTimestamp() - t0);
        }

        return best * 1e6 / Stopwatch.Frequency;
    }

    // Bytes in 0x30..0x3B: every f32/f16/bf16 scale or weight they form is finite and normal (no denormal or NaN
    // slow paths distort the timing), and quantized codes are arbitrary, as in real weights.
    private static void Fill(byte* p, long n)
    {
        uint s = 0x9E3779B9;
        for (long i = 0; i < n; i++)
        {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            p[i] = (byte)(0x30 + s % 12);
        }
    }
}
