using System.Diagnostics;
using System.Runtime.Intrinsics;
using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// Ferrum's CPU MoE layer against ggml on the Qwen3-30B-A3B layer shape (hidden 2048, expert FFN 768, 128 experts,
/// top-8; gate/up q4_K, down q6_K), same weights in memory, same thread count, several layers rotated so the
/// experts stream from DRAM, fresh random inputs (so fresh routing) every iteration.
/// <para>Both sides do the whole block: router mat-vec, softmax, top-8, renormalized weights, gate, up, SiLU·up,
/// down, weighted sum. ggml's graph is llama.cpp's build_moe_ffn for qwen3moe (mul_mat, soft_max, argsort_top_k,
/// get_rows, sum_rows, clamp, div, 3× mul_mat_id, swiglu_split, mul, sum of the 8 views) on a CPU backend with a
/// persistent thread pool.</para>
/// </summary>
internal static unsafe class MoeBench
{
    private const int Hidden = 2048, Ffn = 768, Experts = 128, TopK = 8;

    public static void Run(string[] args, TextWriter o)
    {
        int threads = Arg(args, "--threads", 2);
        MatDriverTuning.Set(Arg(args, "--prefetch-rows", 4));
        int layers = Arg(args, "--layers", 6);
        var batches = (ArgS(args, "--tokens") ?? "1,8,32,512").Split(',').Select(int.Parse).ToArray();
        var routing = MoeRouting.ForArchitecture("qwen3moe", Experts, TopK);

        var q4 = GgmlTypeInfo.Get(GgmlType.Q4_K);
        var q6 = GgmlTypeInfo.Get(GgmlType.Q6_K);
        long gateBytes = q4.RowBytes(Hidden) * Ffn * Experts;
        long downBytes = q6.RowBytes(Ffn) * Hidden * Experts;
        long perLayer = 2 * gateBytes + downBytes + 4L * Hidden * Experts;
        o.WriteLine($"# MoE layer benchmark: qwen3moe shape H={Hidden} F={Ffn} E={Experts} K={TopK}, gate/up q4_K, down q6_K");
        o.WriteLine($"# {layers} layers × {perLayer / 1e6:F0} MB = {layers * perLayer / 1e9:F2} GB of weights; threads {threads}; SIMD {CpuSimd.Level}; ggml {GgmlLibrary.Variant}");

        var buffers = new List<NativeBuffer>();
        var rng = new XorShift(12345);
        var gate = new NativeBuffer[layers];
        var up = new NativeBuffer[layers];
        var down = new NativeBuffer[layers];
        var router = new NativeBuffer[layers];
        for (int l = 0; l < layers; l++)
        {
            gate[l] = RandomBlocks(GgmlType.Q4_K, gateBytes, rng);
            up[l] = RandomBlocks(GgmlType.Q4_K, gateBytes, rng);
            down[l] = RandomBlocks(GgmlType.Q6_K, downBytes, rng);
            router[l] = new NativeBuffer(4L * Hidden * Experts);
            for (int i = 0; i < Hidden * Experts; i++)
            {
                router[l].Floats[i] = rng.NextFloat() * 0.05f;
            }

            buffers.AddRange([gate[l], up[l], down[l], router[l]]);
        }

        double bw = Ferrum.Backends.Cpu.ReadBandwidth.Measure(threads);

        using var pool = new CpuWorkerPool(threads);
        var ferrum = new CpuMoeExecutor[layers];
        for (int l = 0; l < layers; l++)
        {
            var layer = new MoeLayer
            {
                Routing = routing,
                Router = Stack("ffn_gate_inp", GgmlType.F32, router[l], Hidden, Experts, 1),
                Gate = Stack("ffn_gate_exps", GgmlType.Q4_K, gate[l], Hidden, Ffn, Experts),
                Up = Stack("ffn_up_exps", GgmlType.Q4_K, up[l], Hidden, Ffn, Experts),
                Down = Stack("ffn_down_exps", GgmlType.Q6_K, down[l], Ffn, Hidden, Experts),
            };
            ferrum[l] = new CpuMoeExecutor(layer, new CpuMoeOptions { Workers = pool, MaxTokens = batches.Max() });
        }

        o.WriteLine("# kernels: " + string.Join("; ", ferrum[0].KernelPaths));
        using var backend = new GgmlCpuBackend(threads);
        o.WriteLine();
        o.WriteLine("| tokens | Ferrum median (ms) | ggml median (ms) | Ferrum / ggml | Ferrum min | ggml min | Ferrum CPU/thread | ggml CPU/thread | CPU ratio | expert GB/s (Ferrum) | expert GB/s (ggml) | NMSE vs ggml |");
        o.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int tokens in batches)
        {
            int inputs = 8;
            var xs = new NativeBuffer[inputs];
            for (int i = 0; i < inputs; i++)
            {
                xs[i] = new NativeBuffer(4L * tokens * Hidden);
                for (long j = 0; j < (long)tokens * Hidden; j++)
                {
                    xs[i].Floats[j] = rng.NextFloat();
                }
            }

            using var y = new NativeBuffer(4L * tokens * Hidden);
            var spec = new GgmlMoeSpec(Hidden, Ffn, Experts, TopK, NormalizeWeights: true,
                (int)GgmlType.F32, (int)GgmlType.Q4_K, (int)GgmlType.Q4_K, (int)GgmlType.Q6_K);
            var graphs = new GgmlMoeBlock[layers];
            for (int l = 0; l < layers; l++)
            {
                graphs[l] = new GgmlMoeBlock(spec, tokens, router[l].Pointer, gate[l].Pointer, up[l].Pointer, down[l].Pointer);
            }

            int iters = tokens >= 512 ? 6 : tokens >= 32 ? 24 : tokens >= 8 ? 100 : 400;
            int warm = Math.Max(2, iters / 10);

            backend.Pause();
            Thread.Sleep(50);
            var tf = Measure(warm, iters, threads, i => ferrum[i % layers].Forward(xs[i % inputs].Floats, y.Floats, tokens));
            Thread.Sleep(50);
            backend.Resume();
            var tg = Measure(warm, iters, threads, i =>
            {
                var g = graphs[i % layers];
                g.SetInput(xs[i % inputs].Floats);
                backend.Compute(g.Graph);
            });
            // Same input, same layer: the two outputs must agree (ggml's test threshold NMSE 5e-4).
            ferrum[0].Forward(xs[0].Floats, y.Floats, tokens);
            graphs[0].SetInput(xs[0].Floats);
            backend.Compute(graphs[0].Graph);
            double nmse = Nmse(y.Floats, graphs[0].Output, (long)tokens * Hidden);
            backend.Pause();

            // Bytes of expert weights one pass reads: distinct experts hit by the batch (expected value under uniform routing).
            double distinct = Experts * (1 - Math.Pow(1 - (double)TopK / Experts, tokens));
            double bytes = distinct * (2.0 * gateBytes + downBytes) / Experts;
            o.WriteLine($"| {tokens} | {tf.Median:F3} | {tg.Median:F3} | {tf.Median / tg.Median:F2} | {tf.Min:F3} | {tg.Min:F3} | {tf.Cpu:F3} | {tg.Cpu:F3} | {tf.Cpu / tg.Cpu:F2} | {bytes / tf.Median / 1e6:F1} | {bytes / tg.Median / 1e6:F1} | {nmse:E1} |");

            foreach (var g in graphs)
            {
                g.Dispose();
            }

            foreach (var x in xs)
            {
                x.Dispose();
            }
        }

        o.WriteLine();
        o.WriteLine($"# read bandwidth ({threads} threads, 1 GiB buffer): {bw:F1} GB/s");
        foreach (var f in ferrum)
        {
            f.Dispose();
        }

        foreach (var b in buffers)
        {
            b.Dispose();
        }
    }

    // Wall-clock median and minimum per pass, plus the process CPU time per pass divided by the thread count
    // (on a machine shared with other work the CPU time is the steadier measure of the work itself).
    private static (double Median, double Min, double Cpu) Measure(int warm, int iters, int threads, Action<int> run)
    {
        for (int i = 0; i < warm; i++)
        {
            run(i);
        }

        var t = new double[iters];
        var proc = Process.GetCurrentProcess();
        proc.Refresh();
        var cpu0 = proc.TotalProcessorTime;
        for (int i = 0; i < iters; i++)
        {
            long s = Stopwatch.GetTimestamp();
            run(warm + i);
            t[i] = Stopwatch.GetElapsedTime(s).TotalMilliseconds;
        }

        proc.Refresh();
        double cpu = (proc.TotalProcessorTime - cpu0).TotalMilliseconds / iters / threads;
        Array.Sort(t);
        return (t[iters / 2], t[0], cpu);
    }

    // Valid random blocks: random quants and scales, f16 super-block scales set to small normal values.
    private static NativeBuffer RandomBlocks(GgmlType type, long bytes, XorShift rng)
    {
        var b = new NativeBuffer(bytes);
        ulong* p = (ulong*)b.Pointer;
        for (long i = 0; i < bytes / 8; i++)
        {
            p[i] = rng.Next();
        }

        var info = GgmlTypeInfo.Get(type);
        for (long off = 0; off < bytes; off += info.TypeSize)
        {
            ushort d = (ushort)(0x1800 + (rng.Next() & 0x3FF)); // ~2^-9 .. 2^-8
            if (type == GgmlType.Q4_K)
            {
                *(ushort*)(b.Pointer + off) = d;
                *(ushort*)(b.Pointer + off + 2) = d;
            }
            else
            {
                *(ushort*)(b.Pointer + off + info.TypeSize - 2) = d;
            }
        }

        return b;
    }

    private static double Nmse(float* a, float* b, long n)
    {
        double num = 0, den = 0;
        for (long i = 0; i < n; i++)
        {
            num += (double)(a[i] - b[i]) * (a[i] - b[i]);
            den += (double)b[i] * b[i];
        }

        return num / den;
    }

    private static int Arg(string[] args, string name, int def) => ArgS(args, name) is { } s ? int.Parse(s) : def;

    private static string? ArgS(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private sealed class XorShift(ulong seed)
    {
        private ulong _s = seed;

        public ulong Next()
        {
            _s ^= _s << 13;
            _s ^= _s >> 7;
            _s ^= _s << 17;
            return _s;
        }

        public float NextFloat() => (float)((Next() >> 40) / (double)(1UL << 24) * 2 - 1);
    }

    private static ExpertStack Stack(string name, GgmlType type, NativeBuffer buffer, int rowLength, int rows, int experts)
    {
        long rowBytes = GgmlTypeInfo.Get(type).RowBytes(rowLength);
        return ExpertStack.Create(type, WeightBytes.FromPointer(buffer.Pointer, rowBytes * rows * experts), name, 0, experts, rows, rowLength, rowBytes, rowBytes * rows);
    }
}
