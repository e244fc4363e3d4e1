using System.Diagnostics;
using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Benchmarks.Reliability;

/// <summary>
/// <c>soak [--minutes M] [--callers C] [--model FILE]</c>: mixed decode (1 token) and prefill (2..64 tokens) with fresh
/// random inputs on the MoE layers of the demo model, from C caller threads, each with its own executor per layer,
/// plus a shared executor per layer that the callers hit at the same time (concurrent calls must be refused, never
/// corrupted). Every 25th call (and every successful shared call) is recomputed single-threaded on a fresh executor and
/// must match bit for bit. Prints RSS (total and anonymous) every 10 s; the verdict compares RSS after the warm-up
/// (the first fifth of the run) with the end.
/// </summary>
internal static class SoakBench
{
    private sealed record Sample(int Layer, float[] X, float[] Y);

    public static int Run(string[] args, TextWriter o)
    {
        double minutes = double.Parse(Arg(args, "--minutes") ?? "10", System.Globalization.CultureInfo.InvariantCulture);
        int callers = int.Parse(Arg(args, "--callers") ?? "2");
        var path = Arg(args, "--model") ?? DemoPath();
        if (!File.Exists(path))
        {
            o.WriteLine($"soak: {path} not found; build the demo model first: dotnet run -c Release --project src/Ferrum.Sample");
            return 1;
        }

        using var file = GgufFile.Open(path);
        var hp = file.GetMoeHyperParameters();
        var layers = Enumerable.Range(0, hp.BlockCount).Where(hp.IsMoeLayer).Select(i => MoeLayer.Load(file, i)).ToArray();
        int hidden = layers[0].Hidden;
        const int maxTokens = 64;
        var options = new CpuMoeOptions { Threads = 1, MaxTokens = maxTokens };
        var shared = layers.Select(l => new CpuMoeExecutor(l, options)).ToArray();
        o.WriteLine($"soak: {path}, {layers.Length} MoE layers ({layers[0]}), {callers} callers, {minutes} min, {Environment.ProcessorCount} processors");

        long calls = 0, refused = 0, sharedOk = 0, tokens = 0;
        var samples = new System.Collections.Concurrent.ConcurrentQueue<Sample>();
        var stop = new CancellationTokenSource(TimeSpan.FromMinutes(minutes));
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, callers).Select(c => new Thread(() =>
        {
            try
            {
                var own = layers.Select(l => new CpuMoeExecutor(l, options)).ToArray();
                var rng = new Random(1000 + c);
                var x = new float[maxTokens * hidden];
                var y = new float[maxTokens * hidden];
                long n = 0;
                while (!stop.IsCancellationRequested)
                {
                    int li = rng.Next(layers.Length);
                    int t = rng.Next(10) < 7 ? 1 : rng.Next(2, maxTokens + 1);
                    for (int i = 0; i < t * hidden; i++)
                    {
                        x[i] = (float)(rng.NextDouble() * 2 - 1);
                    }

                    var xs = x.AsSpan(0, t * hidden);
                    var ys = y.AsSpan(0, t * hidden);
                    bool onShared = rng.Next(4) == 0;
                    try
                    {
                        (onShared ? shared[li] : own[li]).Forward(xs, ys);
                    }
                    catch (InvalidOperationException) when (onShared)
                    {
                        Interlocked.Increment(ref refused);
                        continue;
                    }

                    Interlocked.Increment(ref calls);
                    Interlocked.Add(ref tokens, t);
                    if (onShared)
                    {
                        Interlocked.Increment(ref sharedOk);
                    }

                    if ((onShared || ++n % 25 == 0) && samples.Count < 64)
                    {
                        samples.Enqueue(new Sample(li, xs.ToArray(), ys.ToArray()));
                    }
                }

                foreach (var e in own)
                {
                    e.Dispose();
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
                stop.Cancel();
            }
        }) { IsBackground = true, Name = $"soak-caller-{c}" }).ToList();

        // The verifier: a fresh single-threaded executor per sample, created and disposed each time.
        long verified = 0, wrong = 0;
        var verifier = new Thread(() =>
        {
            while (!stop.IsCancellationRequested || !samples.IsEmpty)
            {
                if (!samples.TryDequeue(out var s))
                {
                    Thread.Sleep(5);
                    continue;
                }

                using var fresh = new CpuMoeExecutor(layers[s.Layer], options);
                var y = new float[s.X.Length];
                fresh.Forward(s.X, y);
                Interlocked.Increment(ref verified);
                if (!y.AsSpan().SequenceEqual(s.Y))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        }) { IsBackground = true, Name = "soak-verifier" };

        var sw = Stopwatch.StartNew();
        threads.ForEach(t => t.Start());
        verifier.Start();
        var rss = new List<(double Seconds, long Rss, long Anon, long Calls)>();
        o.WriteLine("    time      RSS MiB   anon MiB      calls    tokens   refused   verified  wrong");
        while (!stop.IsCancellationRequested)
        {
            stop.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(10));
            var (r, a) = Rss();
            rss.Add((sw.Elapsed.TotalSeconds, r, a, Interlocked.Read(ref calls)));
            o.WriteLine($"{sw.Elapsed:mm\\:ss\\.f}  {r / 1048576.0,10:F1} {a / 1048576.0,10:F1} {calls,10:N0} {tokens,9:N0} {refused,9:N0} {verified,10:N0} {wrong,6}");
        }

        threads.ForEach(t => t.Join());
        verifier.Join();
        foreach (var e in shared)
        {
            e.Dispose();
        }

        foreach (var l in layers)
        {
            l.Dispose();
        }

        if (!failures.IsEmpty)
        {
            o.WriteLine($"soak: FAILED with {failures.First()}");
            return 1;
        }

        // After warm-up: the first sample past a fifth of the run; growth to the last sample.
        var warm = rss.FirstOrDefault(p => p.Seconds >= sw.Elapsed.TotalSeconds / 5);
        var last = rss[^1];
        double growth = warm.Rss > 0 ? (last.Rss - warm.Rss) * 100.0 / warm.Rss : 0;
        double anonGrowth = warm.Anon > 0 ? (last.Anon - warm.Anon) * 100.0 / warm.Anon : 0;
        o.WriteLine($"soak: {sw.Elapsed.TotalMinutes:F1} min, {calls:N0} calls ({tokens:N0} tokens), {sharedOk:N0} on shared executors, {refused:N0} concurrent calls refused, " +
            $"{verified:N0} outputs recomputed on fresh executors, {wrong} wrong; RSS after warm-up {warm.Rss / 1048576.0:F1} MiB → {last.Rss / 1048576.0:F1} MiB ({growth:+0.00;-0.00}%), " +
            $"anonymous {warm.Anon / 1048576.0:F1} → {last.Anon / 1048576.0:F1} MiB ({anonGrowth:+0.00;-0.00}%)");
        bool ok = wrong == 0 && verified > 0 && growth < 1.0;
        o.WriteLine(ok ? "soak: PASS" : "soak: FAIL");
        return ok ? 0 : 1;
    }

    private static (long Rss, long Anon) Rss()
    {
        long rss = 0, anon = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kb(line);
            }
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
            {
                anon = Kb(line);
            }
        }

        return (rss, anon);

        static long Kb(string line) => long.Parse(line.Split(':')[1].Trim().Split(' ')[0]) * 1024;
    }

    private static string DemoPath()
    {
        var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(root))
        {
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        }

        return Path.Combine(root, "ferrum", "demo-qwen3moe-v2.gguf");
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
