using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Measures the machine's int8 multiply-add peak the way an integer-dot GEMM reaches it: every thread runs eight
/// independent accumulator chains of the best u8×s8 dot instruction sequence this CPU has, on register-resident data
/// (no memory traffic). AVX2: vpmaddubsw (32 products) → vpmaddwd → vpaddd; AVX-VNNI: vpdpbusd (32 products, one
/// instruction); AVX-512BW: the 512-bit vpmaddubsw sequence (64 products). One multiply-add = one u8×s8 product.
/// Puts prefill's achieved rate into proportion (<c>ferrum bench</c>'s "% int8 peak").
/// </summary>
public static class Int8Peak
{
    private const int Iterations = 1 << 22;

    /// <summary>The instruction sequence <see cref="Measure"/> times on this machine.</summary>
    public static string Path => Vector512.IsHardwareAccelerated && Avx512BW.IsSupported ? "avx512bw vpmaddubsw+vpmaddwd"
        : AvxVnni.IsSupported ? "avx-vnni vpdpbusd"
        : Avx2.IsSupported ? "avx2 vpmaddubsw+vpmaddwd"
        : "none";

    /// <summary>
    /// Best of <paramref name="repeats"/> runs on <paramref name="threads"/> threads, in G multiply-adds per second
    /// (1e9 u8×s8 products/s); 0 when the CPU has no integer dot instructions Ferrum uses.
    /// </summary>
    public static double Measure(int threads, int repeats = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        if (Path == "none")
        {
            return 0;
        }

        Run(); // JIT and warm the frequency up before timing
        double best = 0;
        for (int rep = 0; rep < repeats; rep++)
        {
            // Every thread times its own run after a common start, so thread start-up skew is not counted as idle
            // time; the rate is the sum of the threads' rates.
            var rates = new double[threads];
            using var start = new Barrier(threads);
            var workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                int id = t;
                workers[t] = new Thread(() =>
                {
                    start.SignalAndWait();
                    long t0 = Stopwatch.GetTimestamp();
                    long macs = Run();
                    rates[id] = macs / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
                });
                workers[t].Start();
            }

            foreach (var w in workers)
            {
                w.Join();
            }

            best = Math.Max(best, rates.Sum());
        }

        return best;
    }

    // Returns the number of multiply-adds done; the sum keeps the chains alive.
    private static long Run()
    {
        if (Vector512.IsHardwareAccelerated && Avx512BW.IsSupported)
        {
            return Run512();
        }

        return AvxVnni.IsSupported ? RunVnni() : Run256();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long Run256()
    {
        var a = Vector256.Create((byte)3);
        var b = Vector256.Create((sbyte)-2);
        var ones = Vector256.Create((short)1);
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int i = 0; i < Iterations; i++)
        {
            s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            s2 = Avx2.Add(s2, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            s3 = Avx2.Add(s3, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            s4 = Avx2.Add(s4, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            s5 = Avx2.Add(s5, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            s6 = Avx2.Add(s6, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            s7 = Avx2.Add(s7, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, b), ones));
            b = Avx2.Add(b, a.AsSByte()); // the products differ each iteration, so nothing is hoisted out of the loop
        }

        return Keep(Vector256.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7), 8L * 32 * Iterations);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long RunVnni()
    {
        var a = Vector256.Create((byte)3);
        var b = Vector256.Create((sbyte)-2);
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int i = 0; i < Iterations; i++)
        {
            s0 = AvxVnni.MultiplyWideningAndAdd(s0, a, b);
            s1 = AvxVnni.MultiplyWideningAndAdd(s1, a, b);
            s2 = AvxVnni.MultiplyWideningAndAdd(s2, a, b);
            s3 = AvxVnni.MultiplyWideningAndAdd(s3, a, b);
            s4 = AvxVnni.MultiplyWideningAndAdd(s4, a, b);
            s5 = AvxVnni.MultiplyWideningAndAdd(s5, a, b);
            s6 = AvxVnni.MultiplyWideningAndAdd(s6, a, b);
            s7 = AvxVnni.MultiplyWideningAndAdd(s7, a, b);
            b = Avx2.Add(b, a.AsSByte());
        }

        return Keep(Vector256.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7), 8L * 32 * Iterations);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static long Run512()
    {
        var a = Vector512.Create((byte)3);
        var b = Vector512.Create((sbyte)-2);
        var ones = Vector512.Create((short)1);
        Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int i = 0; i < Iterations; i++)
        {
            s0 = Avx512BW.Add(s0, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            s1 = Avx512BW.Add(s1, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            s2 = Avx512BW.Add(s2, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            s3 = Avx512BW.Add(s3, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            s4 = Avx512BW.Add(s4, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            s5 = Avx512BW.Add(s5, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            s6 = Avx512BW.Add(s6, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            s7 = Avx512BW.Add(s7, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, b), ones));
            b = Avx512BW.Add(b, a.AsSByte());
        }

        return Keep(Vector512.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7), 8L * 64 * Iterations);
    }

    private static long Keep(int sum, long macs) => sum == int.MinValue ? macs + 1 : macs;
}
