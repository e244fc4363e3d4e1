namespace Ferrum.Backends.Cpu;

/// <summary>
/// A fixed set of worker threads, shareable by the layers of a model, that run one job together with the calling thread, plus a spinning barrier
/// for phases inside the job. Workers spin briefly after a job (the next layer usually follows at once) and
/// then sleep on a monitor. Running a job allocates nothing.
/// <para>Lifetime: <see cref="Dispose"/> stops the workers; a pool that is dropped without it stops them from its
/// finalizer (the workers reference only the pool's shared state, never the pool, so they do not keep it alive).
/// Double Dispose is harmless; every member but <see cref="Dispose"/> throws <see cref="ObjectDisposedException"/> after it.</para>
/// </summary>
public sealed class CpuWorkerPool : IDisposable
{
    private const int SpinIterations = 4000;

    private readonly State _s;
    private readonly Thread[] _threads;
    private readonly object _turn = new();
    private int _busy; // managed thread id of the caller whose job runs, 0 when idle

    // Everything the worker threads touch; the pool object itself stays collectable.
    private sealed class State
    {
        public readonly object Monitor = new();
        public Action<int>? Job;
        public int Generation;
        public int Sleepers;
        public int Running;
        public volatile bool Disposed;
        public Exception? Failure;
        public int Arrived;
        public volatile int Phase;

        public void Stop()
        {
            Disposed = true;
            lock (Monitor)
            {
                System.Threading.Monitor.PulseAll(Monitor);
            }
        }
    }

    /// <summary>Starts <paramref name="threads"/> − 1 worker threads (the caller is the remaining participant).</summary>
    /// <exception cref="ArgumentOutOfRangeException">threads outside 1..<see cref="CpuMoeOptions.MaxThreads"/>.</exception>
    /// <exception cref="InvalidOperationException">A worker thread could not be started; the ones already started are stopped.</exception>
    public CpuWorkerPool(int threads)
    {
        if (threads < 1 || threads > CpuMoeOptions.MaxThreads)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, $"thread count must be in 1..{CpuMoeOptions.MaxThreads}");
        }

        Count = threads;
        _s = new State();
        _threads = new Thread[threads - 1];
        int started = 0;
        try
        {
            for (; started < _threads.Length; started++)
            {
                int id = started + 1;
                var s = _s;
                var t = new Thread(() => Loop(s, id)) { IsBackground = true, Name = $"ferrum-moe-{id}" };
                if (FailThreadStartForTests?.Invoke(id) is { } injected)
                {
                    throw injected;
                }

                t.Start();
                _threads[started] = t;
            }
        }
        catch (Exception e) when (e is OutOfMemoryException or ThreadStartException or InvalidOperationException)
        {
            // Stop what was started, then say what failed (the runtime's own message is often just "out of memory").
            _s.Stop();
            for (int i = 0; i < started; i++)
            {
                _threads[i].Join();
            }

            GC.SuppressFinalize(this);
            throw new InvalidOperationException($"could not start MoE worker thread {started + 1} of {threads - 1} ({e.GetType().Name}: {e.Message}); try fewer threads (--threads) or raise the process/thread limit", e);
        }
    }

    /// <summary>Test seam: makes the start of worker <c>id</c> fail with the returned exception (per thread, so parallel tests are unaffected).</summary>
    [ThreadStatic]
    internal static Func<int, Exception?>? FailThreadStartForTests;

    /// <summary>Stops the workers of a pool that was never disposed.</summary>
    ~CpuWorkerPool() => _s?.Stop();

    /// <summary>Participants, the calling thread included.</summary>
    public int Count { get; }

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => _s.Disposed;

    /// <summary>Runs <paramref name="job"/>(threadIndex) on every participant and returns when all are done.</summary>
    /// <remarks>
    /// One job at a time: concurrent callers (layers or models sharing the pool, on different threads) wait their turn
    /// and run one after another. A job that calls <see cref="Run"/> again from its own thread is refused with
    /// <see cref="InvalidOperationException"/> (it would wait for itself).
    /// </remarks>
    public void Run(Action<int> job)
    {
        ArgumentNullException.ThrowIfNull(job);
        ObjectDisposedException.ThrowIf(_s.Disposed, this);
        int me = Environment.CurrentManagedThreadId;
        if (Volatile.Read(ref _busy) == me)
        {
            throw new InvalidOperationException("the worker pool's job called Run again on the same pool");
        }

        lock (_turn)
        {
            Volatile.Write(ref _busy, me);
            try
            {
                ObjectDisposedException.ThrowIf(_s.Disposed, this);
                RunCore(job);
            }
            finally
            {
                Volatile.Write(ref _busy, 0);
                GC.KeepAlive(this);
            }
        }
    }

    private void RunCore(Action<int> job)
    {
        var s = _s;
        s.Failure = null;
        s.Job = job;
        Volatile.Write(ref s.Running, Count - 1);
        Interlocked.Increment(ref s.Generation);
        if (Volatile.Read(ref s.Sleepers) > 0)
        {
            lock (s.Monitor)
            {
                Monitor.PulseAll(s.Monitor);
            }
        }

        Exception? mine = null;
        try
        {
            job(0);
        }
        catch (Exception e)
        {
            mine = e;
        }

        int spins = 0;
        var sw = default(SpinWait);
        while (Volatile.Read(ref s.Running) > 0)
        {
            Pause(ref spins, ref sw);
        }

        s.Job = null;
        var failure = mine ?? s.Failure;
        if (failure != null)
        {
            throw new InvalidOperationException($"MoE worker failed: {failure.Message}", failure);
        }
    }

    /// <summary>Waits until every participant of the running job has arrived.</summary>
    public void Barrier()
    {
        if (Count == 1)
        {
            return;
        }

        var s = _s;
        int phase = s.Phase;
        if (Interlocked.Increment(ref s.Arrived) == Count)
        {
            s.Arrived = 0;
            s.Phase = phase + 1;
            return;
        }

        int spins = 0;
        var sw = default(SpinWait);
        while (s.Phase == phase)
        {
            Pause(ref spins, ref sw);
        }
    }

    // Busy-wait with the pause instruction first: a phase of a layer lasts micro- to milliseconds, and yielding
    // the core (SpinWait's default after a few rounds) can cost a whole scheduler quantum on a busy machine.
    // Only a wait that outlasts BusySpins pauses falls back to yielding.
    private const int BusySpins = 1 << 12;

    private static void Pause(ref int spins, ref SpinWait sw)
    {
        if (spins < BusySpins)
        {
            spins++;
            Thread.SpinWait(1);
        }
        else
        {
            sw.SpinOnce(-1);
        }
    }

    // Generation 0 is "no job yet": a worker that starts late must still see the first job. Static, over the
    // shared state only, so a running worker never roots the pool.
    private static void Loop(State s, int id)
    {
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref s.Generation) == seen && !s.Disposed)
            {
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(20);
                    continue;
                }

                Interlocked.Increment(ref s.Sleepers);
                lock (s.Monitor)
                {
                    while (Volatile.Read(ref s.Generation) == seen && !s.Disposed)
                    {
                        Monitor.Wait(s.Monitor);
                    }
                }

                Interlocked.Decrement(ref s.Sleepers);
            }

            if (s.Disposed)
            {
                return;
            }

            seen = Volatile.Read(ref s.Generation);
            try
            {
                s.Job!(id);
            }
            catch (Exception e)
            {
                s.Failure ??= e;
            }
            finally
            {
                Interlocked.Decrement(ref s.Running);
            }
        }
    }

    /// <summary>Stops the worker threads; harmless when repeated. Refused while a job runs.</summary>
    public void Dispose()
    {
        if (_s.Disposed)
        {
            return;
        }

        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("cannot dispose the worker pool while a job is running");
        }

        _s.Stop();
        foreach (var t in _threads)
        {
            t.Join();
        }

        GC.SuppressFinalize(this);
    }
}
