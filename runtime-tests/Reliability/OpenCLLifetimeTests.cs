using System.Diagnostics;
using Ferrum.Backends.OpenCL;
using Ferrum.Runtime.Tests.OpenCL;

namespace Ferrum.Runtime.Tests.Reliability;

/// <summary>
/// Issue 16 on OpenCL: a program build takes a CancellationToken and returns promptly when it fires, leaving the
/// context usable; contexts and buffers dispose idempotently and refuse use afterwards. Runs on the OpenCL device of
/// <see cref="OpenCLFixture"/> (pocl in CI; a missing device fails the test).
/// </summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLLifetimeTests(OpenCLFixture fixture)
{
    // A kernel with enough unrolled work that pocl takes a noticeable time to compile it; unique per call (no cache hit).
    private static string SlowSource() =>
        $"// {Guid.NewGuid()}\n__kernel void k(__global float* y) {{ float a = y[0];\n" +
        string.Concat(Enumerable.Range(0, 1200).Select(i => $"a = a * 1.0001f + {i}.5f; y[{i % 64}] += a;\n")) + "}\n";

    [Fact]
    public void A_cancelled_program_build_returns_promptly_and_the_context_stays_usable()
    {
        var device = fixture.Context.Device;
        var cache = new OpenCLProgramCache(Directory.CreateTempSubdirectory("ferrum-ocl-cancel-").FullName);
        using var context = new OpenCLContext(device, cache);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => context.BuildProgram("pre-cancelled", SlowSource(), string.Empty, cancelled.Token));

        // Time one full build (after a first one that warms the compiler up), then cancel a third a tenth of the way in.
        context.BuildProgram("warm-up", SlowSource());
        var sw = Stopwatch.StartNew();
        context.BuildProgram("timed", SlowSource());
        var full = sw.Elapsed;
        // Cancelled from a dedicated thread: a timer would need the (busy) thread pool.
        using var cts = new CancellationTokenSource();
        var canceller = new Thread(() =>
        {
            Thread.Sleep(full / 10);
            cts.Cancel();
        });
        sw.Restart();
        canceller.Start();
        var source = SlowSource();
        var thrown = Record.Exception(() => context.BuildProgram("cancelled", source, string.Empty, cts.Token));
        Assert.True(thrown is OperationCanceledException, $"full build {full}, the build cancelled at {full / 10} ended after {sw.Elapsed} with {thrown?.GetType().Name ?? "no exception"}");
        Assert.True(sw.Elapsed < full / 10 + TimeSpan.FromMilliseconds(200), $"full build {full}, cancelled after {sw.Elapsed}");
        canceller.Join();

        // Usable: the same program builds (or comes from the finished background build) and runs a kernel.
        var program = context.BuildProgram("cancelled", source);
        Assert.Equal("cancelled", program.Name);
        using var buffer = context.CreateBuffer(64 * sizeof(float));
        context.Write<float>(buffer, new float[64]);
        context.Finish();
        buffer.Dispose();
        buffer.Dispose();
        context.Dispose();
        context.Dispose();
        Assert.Throws<ObjectDisposedException>(() => context.BuildProgram("after", SlowSource()));
        Assert.Throws<ObjectDisposedException>(() => context.CreateBuffer(16));
    }
}
