using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;
using Ferrum.Runtime.Tests.Moe;

namespace Ferrum.Runtime.Tests.Reliability;

/// <summary>
/// Issue 16, "use after dispose crashes": layer, file and executor disposed in every order. Forward on a live executor
/// stays right thanks to its lease on the mapping; anything on a disposed object throws ObjectDisposedException; double
/// Dispose is harmless. The expected output is computed with every object alive.
/// </summary>
public sealed class DisposalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-rel-").FullName;
    private readonly MoeTestLayer _l = new(GgmlType.Q4_K, "qwen3moe", 171);
    private readonly float[] _x = TestData.Gaussian(3 * MoeTestLayer.Hidden, 17);
    private readonly float[] _expected;
    private readonly string _path;

    public DisposalTests()
    {
        _path = LayerGguf.Write(_l, Path.Combine(_dir, "layer.gguf"));
        _expected = new float[_x.Length];
        using var file = GgufFile.Open(_path);
        using var layer = MoeLayer.Load(file, 1);
        using var exec = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 2, MaxTokens = 4 });
        exec.Forward(_x, _expected);
    }

    public void Dispose()
    {
        _l.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    public static TheoryData<string> Orders() => ["file,layer", "layer,file", "file", "layer"];

    [Theory]
    [MemberData(nameof(Orders))]
    public void Executor_outlives_its_layer_and_file_through_its_lease(string order)
    {
        var file = GgufFile.Open(_path);
        var layer = MoeLayer.Load(file, 1);
        using var exec = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 2, MaxTokens = 4 });
        foreach (var what in order.Split(','))
        {
            if (what == "file")
            {
                file.Dispose();
            }
            else
            {
                layer.Dispose();
            }
        }

        var y = new float[_x.Length];
        exec.Forward(_x, y);
        Assert.Equal(_expected, y);
        file.Dispose();
        layer.Dispose();
        GC.Collect();
        exec.Forward(_x, y);
        Assert.Equal(_expected, y);
    }

    [Fact]
    public void Executor_from_a_disposed_layer_or_a_layer_of_a_disposed_file_is_refused()
    {
        var file = GgufFile.Open(_path);
        var layer = MoeLayer.Load(file, 1);
        layer.Dispose();
        layer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 1 }));
        Assert.Throws<ObjectDisposedException>(() => layer.AcquireMemoryLease());

        // The weight views of a disposed layer refuse access instead of reading memory that may be unmapped.
        Assert.Throws<ObjectDisposedException>(() => layer.Gate.Expert(0).Length);
        Assert.Throws<ObjectDisposedException>(() => layer.Down.Row(1, 2).Length);
        unsafe
        {
            Assert.Throws<ObjectDisposedException>(() => (nint)layer.Router.ExpertPointer(0));
        }

        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => MoeLayer.Load(file, 1));
    }

    [Fact]
    public void Every_member_of_a_disposed_executor_throws_and_double_dispose_is_harmless()
    {
        using var file = GgufFile.Open(_path);
        using var layer = MoeLayer.Load(file, 1);
        var exec = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 2, MaxTokens = 4 });
        exec.Dispose();
        exec.Dispose();
        Assert.True(exec.IsDisposed);
        var y = new float[_x.Length];
        Assert.Throws<ObjectDisposedException>(() => exec.Forward(_x, y));
        Assert.Throws<ObjectDisposedException>(() => exec.Threads);
        Assert.Throws<ObjectDisposedException>(() => exec.Hidden);
        Assert.Throws<ObjectDisposedException>(() => exec.Routing);
        Assert.Throws<ObjectDisposedException>(() => exec.KernelPaths);
        unsafe
        {
            fixed (float* px = _x, py = y)
            {
                float* a = px, b = py;
                Assert.Throws<ObjectDisposedException>(() => exec.Forward(a, b, 3));
            }
        }

        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Worker_pool_disposal_is_idempotent_and_later_runs_throw()
    {
        var pool = new CpuWorkerPool(3);
        int ran = 0;
        pool.Run(_ => Interlocked.Increment(ref ran));
        Assert.Equal(3, ran);
        pool.Dispose();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(_ => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CpuWorkerPool(100_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CpuMoeExecutor(_l.Layer(), new CpuMoeOptions { Threads = 100_000 }));
    }
}

/// <summary>Runs alone (it counts this process's worker threads): dropped pools and executors release their workers.</summary>
[CollectionDefinition(nameof(FinalizerTests), DisableParallelization = true)]
[Collection(nameof(FinalizerTests))]
public sealed class FinalizerTests
{
    // Threads named ferrum-moe-* of this process, from /proc (Linux). This collection runs alone, but a finalizer of an
    // earlier test may still stop workers meanwhile, so the checks leave some slack where they wait for the GC.
    // Without /proc (macOS) every thread of the process counts; the checks compare counts, so that still works.
    private static int Workers() => Directory.Exists("/proc/self/task")
        ? Directory.GetDirectories("/proc/self/task").Count(t => SafeRead(Path.Combine(t, "comm")).StartsWith("ferrum-moe-", StringComparison.Ordinal))
        : System.Diagnostics.Process.GetCurrentProcess().Threads.Count;

    // A joined thread can linger in /proc for a moment while the OS tears it down: poll briefly.
    private static bool SettlesTo(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(3);
        while (Workers() > count)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            Thread.Sleep(10);
        }

        return true;
    }

    private static string SafeRead(string p)
    {
        try
        {
            return File.ReadAllText(p);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    [Fact]
    public void Dropped_pools_and_executors_stop_their_workers_from_the_finalizer()
    {
        int before = Workers();
        using var l = new MoeTestLayer(GgmlType.Q8_0, "qwen3moe", 172);
        MakeAndDrop(l.Layer());
        int during = Workers();
        Assert.True(during >= before + 30, $"expected 40 new workers, saw {before} → {during}");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        int after;
        do
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Thread.Sleep(50);
            after = Workers();
        }
        while (after > before + 8 && DateTime.UtcNow < deadline);
        Assert.True(after <= before + 8, $"dropped pools kept their workers: {before} → {during} → {after}");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void MakeAndDrop(MoeLayer layer)
    {
        for (int i = 0; i < 4; i++)
        {
            _ = new CpuWorkerPool(6);
            var e = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 6, MaxTokens = 2 });
            e.Forward(new float[MoeTestLayer.Hidden], new float[MoeTestLayer.Hidden]);
        }
    }

    [Fact]
    public void A_worker_that_cannot_start_stops_the_others_and_surfaces_the_real_error()
    {
        using var l = new MoeTestLayer(GgmlType.Q8_0, "qwen3moe", 173);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        int before = Workers();
        CpuWorkerPool.FailThreadStartForTests = id => id == 4 ? new OutOfMemoryException("simulated: thread limit reached") : null;
        try
        {
            var pool = Assert.Throws<InvalidOperationException>(() => new CpuWorkerPool(8));
            Assert.Contains("could not start MoE worker thread 4 of 7", pool.Message);
            Assert.Contains("simulated: thread limit reached", pool.Message);
            Assert.IsType<OutOfMemoryException>(pool.InnerException);
            Assert.True(SettlesTo(before), $"workers left running: {before} → {Workers()}");

            var exec = Assert.Throws<InvalidOperationException>(() => new CpuMoeExecutor(l.Layer(), new CpuMoeOptions { Threads = 8 }));
            Assert.Contains("could not start MoE worker thread 4", exec.Message);
            Assert.True(SettlesTo(before), $"workers left running: {before} → {Workers()}");
        }
        finally
        {
            CpuWorkerPool.FailThreadStartForTests = null;
        }

        // Nothing stuck: the next pool starts normally.
        using var ok = new CpuWorkerPool(8);
        int ran = 0;
        ok.Run(_ => Interlocked.Increment(ref ran));
        Assert.Equal(8, ran);
    }
}
