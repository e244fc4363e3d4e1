using System.Diagnostics;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// The six Q8_K-activation formats (q2_K..q6_K, iq4_xs) at 768×2048, cache-resident, one thread: Ferrum's chosen
/// kernel at 1, 2, 3, 8 and 32 tokens (3 also with the leftover three as Dot2 + Dot) against ggml's vec_dot called
/// per (row, token). Minimum of repeated runs. Run with <c>cpu-kquants</c> [comma-separated types, e.g. Q4_0,Q8_0].
/// </summary>
internal static unsafe class KQuantMicroBench
{
    public static void Run(TextWriter o, string? only = null)
    {
        const int rows = 768, k = 2048;
        var types = only == null
            ? [GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_XS]
            : only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(n => Enum.Parse<GgmlType>(n, ignoreCase: true)).ToArray();
        foreach (var type in types)
        {
            var info = GgmlTypeInfo.Get(type);
            long rowBytes = info.RowBytes(k);
            using var w = new NativeBuffer(rowBytes * rows);
            using var wf = new NativeBuffer(4L * k * rows);
            var rng = new Random(1);
            for (long i = 0; i < (long)k * rows; i++)
            {
                wf.Floats[i] = (float)(rng.NextDouble() - 0.5);
            }

            GgmlCpuOps.QuantizeRows((int)type, wf.Floats, w.Pointer, rows, k);
            var kern = CpuKernels.Generic(type, CpuSimd.Level);
            int gAct = GgmlCpuOps.VecDotType((int)type);
            var vd = GgmlCpuOps.VecDot((int)type);
            long ab = ActivationQuant.RowBytes(kern.ActivationType, k);
            long gab = GgmlTypeInfo.Get((GgmlType)gAct).RowBytes(k);
            const int maxTokens = 32;
            using var x = new NativeBuffer(4L * k * maxTokens);
            for (int i = 0; i < k * maxTokens; i++)
            {
                x.Floats[i] = (float)(rng.NextDouble() - 0.5);
            }

            using var act = new NativeBuffer(ab * maxTokens);
            using var gact = new NativeBuffer(gab * maxTokens);
            for (int t = 0; t < maxTokens; t++)
            {
                ActivationQuant.Quantize(kern.ActivationType, x.Floats + t * k, act.Pointer + t * ab, k);
                GgmlCpuOps.FromFloat(gAct, x.Floats + t * k, gact.Pointer + t * gab, k);
            }

            using var y = new NativeBuffer(4L * rows * maxTokens);
            foreach (int bt in new[] { 1, 2, 3, 8, 32 })
            {
                double ours = Min(() => kern.Run(k, w.Pointer, rowBytes, rows, act.Pointer, ab, bt, y.Floats, rows), bt);
                double g = Min(() =>
                {
                    for (int r = 0; r < rows; r++)
                    {
                        for (int t = 0; t < bt; t++)
                        {
                            vd(k, y.Floats + t * rows + r, 0, w.Pointer + r * rowBytes, 0, gact.Pointer + t * gab, 0, 1);
                        }
                    }
                }, bt);
                o.WriteLine($"{info.Name,-6} {rows}x{k} x{bt,-2} {kern.Path,-34} {ours,9:F1} us  ggml vec_dot {g,9:F1} us  ratio {ours / g:F2}");
                if (bt == 3)
                {
                    // The leftover three through Dot2 + Dot (kernels with a Dot2; the same as above where PadThree is false).
                    MatDriver.ForceThreeAsDot2 = true;
                    double alt = Min(() => kern.Run(k, w.Pointer, rowBytes, rows, act.Pointer, ab, bt, y.Floats, rows), bt);
                    MatDriver.ForceThreeAsDot2 = false;
                    o.WriteLine($"{info.Name,-6} {rows}x{k} x{bt,-2} {"  as Dot2 + Dot",-34} {alt,9:F1} us  ggml vec_dot {g,9:F1} us  ratio {alt / g:F2}");
                }

            }
        }
    }

    // Minimum over repeated batches (the machine is shared; the minimum is the least disturbed run).
    private static double Min(Action a, int tokens)
    {
        int warm = Math.Max(3, 20 / tokens), reps = Math.Max(9, 41 / Math.Max(1, tokens / 4));
        for (int i = 0; i < warm; i++)
        {
            a();
        }

        double best = double.MaxValue;
        for (int i = 0; i < reps; i++)
        {
            long s = Stopwatch.GetTimestamp();
            for (int j = 0; j < 3; j++)
            {
                a();
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(s).TotalMicroseconds / 3);
        }

        return best;
    }
}

/// <summary>
/// Experts streamed from DRAM (48 q4_K 768×2048 matrices, 42 MB, one thread) at the token counts an expert sees in
/// small MoE batches, with the driver's software prefetch (single-token path) on (PrefetchRows 4) and off (0). Run with
/// <c>cpu-kstream</c>.
/// </summary>
internal static unsafe class KQuantStreamBench
{
    public static void Run(TextWriter o)
    {
        const int rows = 768, k = 2048, experts = 48, maxTokens = 8;
        var type = GgmlType.Q4_K;
        long rowBytes = GgmlTypeInfo.Get(type).RowBytes(k);
        long matBytes = rowBytes * rows;
        using var w = new NativeBuffer(matBytes * experts);
        using (var wf = new NativeBuffer(4L * k * rows))
        {
            var rng = new Random(3);
            for (long i = 0; i < (long)k * rows; i++)
            {
                wf.Floats[i] = (float)(rng.NextDouble() - 0.5);
            }

            GgmlCpuOps.QuantizeRows((int)type, wf.Floats, w.Pointer, rows, k);
        }

        for (int e = 1; e < experts; e++)
        {
            Buffer.MemoryCopy(w.Pointer, w.Pointer + e * matBytes, matBytes, matBytes);
        }

        var kern = CpuKernels.Generic(type, CpuSimd.Level);
        long ab = ActivationQuant.RowBytes(kern.ActivationType, k);
        using var x = new NativeBuffer(4L * k);
        using var act = new NativeBuffer(ab * maxTokens);
        for (int t = 0; t < maxTokens; t++)
        {
            for (int i = 0; i < k; i++)
            {
                x.Floats[i] = MathF.Sin(i * 0.37f + t);
            }

            ActivationQuant.Quantize(kern.ActivationType, x.Floats, act.Pointer + t * ab, k);
        }

        using var y = new NativeBuffer(4L * rows * maxTokens);
        int saved = MatDriver.PrefetchRows, line3 = 0;
        bool savedThree = MatDriver.ForceThreeAsDot2;
        foreach (int tokens in new[] { 1, 2, 3, 3, 4, 8 })
        {
            // The second x3 line: a leftover three through Dot2 + Dot rather than a padded Dot4.
            MatDriver.ForceThreeAsDot2 = tokens == 3 && line3++ == 1;
            var line = $"q4_K stream {experts}x{rows}x{k} x{tokens}{(MatDriver.ForceThreeAsDot2 ? " dot2+dot" : "")}:";
            foreach (int ahead in new[] { 4, 0 })
            {
                MatDriver.PrefetchRows = ahead;
                double best = double.MaxValue;
                for (int rep = 0; rep < 7; rep++)
                {
                    long s = System.Diagnostics.Stopwatch.GetTimestamp();
                    for (int e = 0; e < experts; e++)
                    {
                        kern.Run(k, w.Pointer + e * matBytes, rowBytes, rows, act.Pointer, ab, tokens, y.Floats, rows);
                    }

                    best = Math.Min(best, System.Diagnostics.Stopwatch.GetElapsedTime(s).TotalMicroseconds);
                }

                line += $"  prefetch {ahead}: {best / 1000,7:F2} ms {matBytes * experts / best / 1e3,5:F1} GB/s";
            }

            o.WriteLine(line);
        }

        MatDriver.PrefetchRows = saved;
        MatDriver.ForceThreeAsDot2 = savedThree;
    }
}
