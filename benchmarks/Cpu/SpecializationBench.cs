using System.Diagnostics;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// Shape-specialized kernels (row length a JIT-time constant) against the shape-generic ones, one expert matrix,
/// one thread, cache-resident, 1 and 8 tokens; the two are timed alternately, minimum of many batches.
/// </summary>
internal static unsafe class SpecializationBench
{
    private struct K2048 : IFixedRowLength
    {
        public static int Value => 2048;
    }

    private struct K768 : IFixedRowLength
    {
        public static int Value => 768;
    }

    public static void Run(TextWriter o)
    {
        Compare(o, GgmlType.Q4_K, 768, 2048, CpuKernels.Specialize<K2048>(GgmlType.Q4_K));
        Compare(o, GgmlType.Q6_K, 2048, 768, CpuKernels.Specialize<K768>(GgmlType.Q6_K));
    }

    private static void Compare(TextWriter o, GgmlType type, int rows, int k, CpuMatKernel? special)
    {
        if (special == null)
        {
            o.WriteLine($"{type}: no specialized kernel at SIMD level {CpuSimd.Level}");
            return;
        }

        var generic = CpuKernels.Generic(type, CpuSimd.Level);
        var info = GgmlTypeInfo.Get(type);
        long rowBytes = info.RowBytes(k);
        using var wf = new NativeBuffer(4L * k * rows);
        var rng = new Random(3);
        for (long i = 0; i < (long)k * rows; i++)
        {
            wf.Floats[i] = (float)(rng.NextDouble() - 0.5);
        }

        using var w = new NativeBuffer(rowBytes * rows);
        GgmlCpuOps.QuantizeRows((int)type, wf.Floats, w.Pointer, rows, k);
        foreach (int tokens in new[] { 1, 8 })
        {
            long ab = ActivationQuant.RowBytes(generic.ActivationType, k);
            using var act = new NativeBuffer(ab * tokens);
            for (int t = 0; t < tokens; t++)
            {
                ActivationQuant.Quantize(generic.ActivationType, wf.Floats + t * k, act.Pointer + t * ab, k);
            }

            using var y = new NativeBuffer(4L * rows * tokens);
            double best0 = double.MaxValue, best1 = double.MaxValue;
            for (int rep = 0; rep < 60; rep++)
            {
                best0 = Math.Min(best0, Time(() => generic.Run(k, w.Pointer, rowBytes, rows, act.Pointer, ab, tokens, y.Floats, rows)));
                best1 = Math.Min(best1, Time(() => special.Run(k, w.Pointer, rowBytes, rows, act.Pointer, ab, tokens, y.Floats, rows)));
            }

            o.WriteLine($"{info.Name} {rows}x{k} tokens {tokens}: generic {best0,8:F1} us, specialized {best1,8:F1} us, gain {best0 / best1:F2}x");
        }
    }

    private static double Time(Action a)
    {
        a();
        long s = Stopwatch.GetTimestamp();
        for (int i = 0; i < 5; i++)
        {
            a();
        }

        return Stopwatch.GetElapsedTime(s).TotalMicroseconds / 5;
    }
}
