using Ferrum.Backends.Cpu;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;
using Ferrum.Runtime.Tests.Moe;

namespace Ferrum.Runtime.Tests.Reliability;

/// <summary>
/// Issue 16, "concurrent calls corrupt output" and "concurrent calls can crash outright": four threads call Forward on one
/// executor with distinct inputs. Every call either returns exactly the single-threaded result for its input or is
/// refused with InvalidOperationException; no call writes past its output span.
/// </summary>
public sealed class ConcurrentForwardTests
{
    [Fact]
    public void Concurrent_calls_on_one_executor_are_right_or_refused()
    {
        using var l = new MoeTestLayer(GgmlType.Q4_K, "qwen3moe", 161);
        const int h = MoeTestLayer.Hidden, threads = 4, calls = 25;

        // Distinct inputs, mixed 7- and 1-token batches; expected outputs from a fresh executor, one call at a time.
        var inputs = new float[threads * calls][];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = TestData.Gaussian((i % 2 == 0 ? 7 : 1) * h, 1000 + i);
        }

        var expected = new float[inputs.Length][];
        using (var solo = new CpuMoeExecutor(l.Layer(), new CpuMoeOptions { Threads = 1, MaxTokens = 8 }))
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                expected[i] = new float[inputs[i].Length];
                solo.Forward(inputs[i], expected[i]);
            }
        }

        using var shared = new CpuMoeExecutor(l.Layer(), new CpuMoeOptions { Threads = 2, MaxTokens = 8 });
        int right = 0, refused = 0, wrong = 0, overrun = 0;
        var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int c = 0; c < calls; c++)
            {
                int i = t * calls + c;
                const float sentinel = 12345.5f;
                var buffer = new float[inputs[i].Length + h];
                Array.Fill(buffer, sentinel);
                try
                {
                    shared.Forward(inputs[i], buffer.AsSpan(0, inputs[i].Length));
                    bool same = buffer.AsSpan(0, inputs[i].Length).SequenceEqual(expected[i]);
                    Interlocked.Increment(ref same ? ref right : ref wrong);
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref refused);
                }

                if (buffer.AsSpan(inputs[i].Length).ContainsAnyExcept(sentinel))
                {
                    Interlocked.Increment(ref overrun);
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Equal(0, wrong);
        Assert.Equal(0, overrun);
        Assert.Equal(threads * calls, right + refused);
        Assert.True(right >= calls, $"only {right} calls ran ({refused} refused)");

        // The executor is still right after the contention.
        var y = new float[inputs[0].Length];
        shared.Forward(inputs[0], y);
        Assert.Equal(expected[0], y);
    }

    [Fact]
    public void Separate_executors_on_one_layer_run_concurrently_and_agree()
    {
        using var l = new MoeTestLayer(GgmlType.Q8_0, "qwen2moe", 162);
        var layer = l.Layer();
        var x = TestData.Gaussian(5 * MoeTestLayer.Hidden, 77);
        var expected = new float[x.Length];
        using (var solo = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 1, MaxTokens = 8 }))
        {
            solo.Forward(x, expected);
        }

        // Executors on separate pools run together and each gives the single-threaded result.
        var results = new float[3][];
        var execs = Enumerable.Range(0, 3).Select(_ => new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 1, MaxTokens = 8 })).ToArray();
        try
        {
            Parallel.For(0, 3, i =>
            {
                for (int r = 0; r < 10; r++)
                {
                    results[i] = new float[x.Length];
                    execs[i].Forward(x, results[i]);
                    Assert.Equal(expected, results[i]);
                }
            });
        }
        finally
        {
            foreach (var e in execs)
            {
                e.Dispose();
            }
        }
    }

    [Fact]
    public void Executors_sharing_one_pool_take_turns_and_are_never_corrupted()
    {
        using var l = new MoeTestLayer(GgmlType.Q8_0, "olmoe", 163);
        var layer = l.Layer();
        using var pool = new CpuWorkerPool(2);
        using var a = new CpuMoeExecutor(layer, new CpuMoeOptions { Workers = pool, MaxTokens = 8 });
        using var b = new CpuMoeExecutor(layer, new CpuMoeOptions { Workers = pool, MaxTokens = 8 });
        var x = TestData.Gaussian(8 * MoeTestLayer.Hidden, 5);
        var expected = new float[x.Length];
        a.Forward(x, expected);
        int wrong = 0, ran = 0;

        // Two callers per executor would be refused by the executor; one caller per executor shares the pool by turns.
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            for (int r = 0; r < 20; r++)
            {
                var y = new float[x.Length];
                (i == 0 ? a : b).Forward(x, y);
                Interlocked.Increment(ref ran);
                if (!y.AsSpan().SequenceEqual(expected))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        });
        Assert.Equal(0, wrong);
        Assert.Equal(40, ran);
    }
}
