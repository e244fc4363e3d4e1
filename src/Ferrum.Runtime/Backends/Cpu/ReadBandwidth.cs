using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// Measures the machine's sequential DRAM read bandwidth the way the MoE kernels read weights: every thread streams
/// its own contiguous part of a buffer far larger than the caches with vector loads. Used to put the kernels'
/// achieved GB/s into proportion.
/// </summary>
public static unsafe class ReadBandwidth
{
    /// <summary>Best of <paramref name="repeats"/> passes over <paramref name="bytes"/> bytes, in GB/s (1e9 bytes/s).</summary>
    public static double Measure(int threads, long bytes = 1L << 30, int repeats = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1L << 20);
        bytes &= ~((long)threads * 128 - 1);
        var buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            // Touch every page first so the timed passes read memory, not page faults.
            for (long i = 0; i < bytes; i += int.MaxValue / 2)
            {
                new Span<byte>(buffer + i, (int)Math.Min(int.MaxValue / 2, bytes - i)).Fill(1);
            }

            var best = 0.0;
            var sums = new float[threads];
            for (var rep = 0; rep < repeats; rep++)
            {
                var start = Stopwatch.GetTimestamp();
                var workers = new Thread[threads];
                for (var t = 0; t < threads; t++)
                {
                    var id = t;
                    workers[t] = new Thread(() => sums[id] = Sum((float*)(buffer + (id * (bytes / threads))), bytes / threads / sizeof(float)));
                    workers[t].Start();
                }

                foreach (var w in workers)
                {
                    w.Join();
                }

                best = Math.Max(best, bytes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
            }

            // The sums keep the loads alive; every float is 1.0f-ish bytes, the value itself is irrelevant.
            GC.KeepAlive(sums);
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    private static float Sum(float* p, long count)
    {
        // Four independent accumulators keep several cache lines in flight per thread.
        var a0 = Vector256<float>.Zero;
        var a1 = Vector256<float>.Zero;
        var a2 = Vector256<float>.Zero;
        var a3 = Vector256<float>.Zero;
        for (long i = 0; i + 32 <= count; i += 32)
        {
            a0 += Vector256.Load(p + i);
            a1 += Vector256.Load(p + i + 8);
            a2 += Vector256.Load(p + i + 16);
            a3 += Vector256.Load(p + i + 24);
        }

        return Vector256.Sum(a0 + a1 + a2 + a3);
    }
}
