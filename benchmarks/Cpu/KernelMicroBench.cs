using System.Diagnostics;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// One expert matrix (768×2048 or 2048×768), cache-resident, one thread: Ferrum's kernel against ggml's vec_dot
/// called row by row (what ggml's mul_mat does per row), at one token and at eight (ggml: vec_dot per row and
/// token). Minimum of repeated runs.
/// <c>cpu-kernels q4_0,q8_0</c> runs only the formats named.
/// </summary>
internal static unsafe class KernelMicroBench
{
    /// <summary>Runs every format, or those named in <paramref name="only"/> (e.g. q4_0,q8_0).</summary>
    public static void Run(TextWriter o, string? only = null)
    {
        var names = only?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (var (type, rows, k) in new[] { (GgmlType.Q4_K, 768, 2048), (GgmlType.Q6_K, 2048, 768), (GgmlType.Q8_0, 768, 2048), (GgmlType.Q4_0, 768, 2048), (GgmlType.Q4_1, 768, 2048), (GgmlType.Q5_0, 768, 2048), (GgmlType.Q5_1, 768, 2048), (GgmlType.IQ4_NL, 768, 2048), (GgmlType.MXFP4, 768, 2048), (GgmlType.F16, 768, 2048), (GgmlType.BF16, 768, 2048), (GgmlType.F32, 768, 2048) }.Where(c => names == null || names.Contains(GgmlTypeInfo.Get(c.Item1).Name, StringComparer.OrdinalIgnoreCase)))
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
            using var x = new NativeBuffer(4L * k);
            for (int i = 0; i < k; i++)
            {
                x.Floats[i] = (float)(rng.NextDouble() - 0.5);
            }

            int gAct = GgmlCpuOps.VecDotType((int)type);
            using var gact = new NativeBuffer(GgmlTypeInfo.Get((GgmlType)gAct).RowBytes(k));
            GgmlCpuOps.FromFloat(gAct, x.Floats, gact.Pointer, k);
            var vd = GgmlCpuOps.VecDot((int)type);
            using var gy = new NativeBuffer(4L * rows);
            double g = Median(() =>
            {
                for (int r = 0; r < rows; r++)
                {
                    vd(k, gy.Floats + r, 0, w.Pointer + r * rowBytes, 0, gact.Pointer, 0, 1);
                }
            });
            o.WriteLine($"{info.Name,-6} {rows}x{k} {"ggml vec_dot",-32} {g,8:F1} us  {rowBytes * rows / g / 1e3,6:F1} GB/s");

            var kernels = new[] { SimdLevel.Avx512, SimdLevel.Avx2 }.Where(l => l <= CpuSimd.Supported).Select(l => CpuKernels.Generic(type, l)).ToList();
            foreach (var kern in kernels)
            {
                long actBytes = ActivationQuant.RowBytes(kern.ActivationType, k);
                using var act = new NativeBuffer(actBytes);
                ActivationQuant.Quantize(kern.ActivationType, x.Floats, act.Pointer, k);
                using var y = new NativeBuffer(4L * rows);
                double ours = Median(() => kern.Run(k, w.Pointer, rowBytes, rows, act.Pointer, actBytes, 1, y.Floats, rows));
                o.WriteLine($"{info.Name,-6} {rows}x{k} {kern.Path,-32} {ours,8:F1} us  {rowBytes * rows / ours / 1e3,6:F1} GB/s  ratio {ours / g:F2}");
            }

            // Batch of 8 tokens: Ferrum's batched driver against ggml's vec_dot per (row, token).
            const int bt = 8;
            var kb = CpuKernels.Generic(type, CpuSimd.Level);
            long ab = ActivationQuant.RowBytes(kb.ActivationType, k);
            long gab = GgmlTypeInfo.Get((GgmlType)gAct).RowBytes(k);
            using var actB = new NativeBuffer(ab * bt);
            using var gactB = new NativeBuffer(gab * bt);
            for (int t = 0; t < bt; t++)
            {
                ActivationQuant.Quantize(kb.ActivationType, x.Floats, actB.Pointer + t * ab, k);
                GgmlCpuOps.FromFloat(gAct, x.Floats, gactB.Pointer + t * gab, k);
            }

            using var yb = new NativeBuffer(4L * rows * bt);
            double oursB = Median(() => kb.Run(k, w.Pointer, rowBytes, rows, actB.Pointer, ab, bt, yb.Floats, rows));
            double ggmlB = Median(() =>
            {
                for (int r = 0; r < rows; r++)
                {
                    for (int t = 0; t < bt; t++)
                    {
                        vd(k, yb.Floats + t * rows + r, 0, w.Pointer + r * rowBytes, 0, gactB.Pointer + t * gab, 0, 1);
                    }
                }
            });
            o.WriteLine($"{info.Name,-6} {rows}x{k} x{bt} tokens: {kb.Path} {oursB,8:F1} us, ggml vec_dot {ggmlB,8:F1} us, ratio {oursB / ggmlB:F2}");
        }
    }

    // Minimum over repeated batches: the machine is shared, and the minimum is the least disturbed run.
    private static double Median(Action a)
    {
        for (int i = 0; i < 20; i++)
        {
            a();
        }

        var t = new double[41];
        for (int i = 0; i < t.Length; i++)
        {
            long s = Stopwatch.GetTimestamp();
            for (int j = 0; j < 5; j++)
            {
                a();
            }

            t[i] = Stopwatch.GetElapsedTime(s).TotalMicroseconds / 5;
        }

        Array.Sort(t);
        return t[0];
    }
}
