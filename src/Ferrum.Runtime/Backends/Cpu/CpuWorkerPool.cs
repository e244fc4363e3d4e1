namespace Ferrum.Backends.Cpu;

/// <summary>
/// A fixed set of worker threads, shareable by the layers of a model, that run one job together with the calling thread, plus a spinning barrier
/// for phases inside the job. Workers spin briefly after a job (the next layer usually follows at once) and
/// then sleep on a monitor. Running a job allocates nothing.
/// </summary>
public sealed class CpuWorkerPool : IDisposable
{
    private const int SpinIterations = 4000;

    private readonly Thread[] _threads;
    private readonly object _monitor = new();
    private Action<int>? _job;
    private int _generation;
    private int _sleepers;
    private int _running;
    private int _busy;
    private volatile bool _disposed;
    private Exception? _failure;

    // Barrier state.
    private int _arrived;
    private volatile int _phase;

    /// <summary>Starts <paramref name="threads"/> − 1 worker threads (the caller is the remaining participant).</summary>
    public CpuWorkerPool(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "thread count must be at least 1");
        }

        Count = threads;
        _threads = new Thread[threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int id = i + 1;
            _threads[i] = new Thread(() => Loop(id)) { IsBackground = true, Name = $"ferrum-moe-{id}" };
            _threads[i].Start();
        }
    }

    /// <summary>Participants, the calling thread included.</summary>
    public int Count { get; }

    /// <summary>Runs <paramref name="job"/>(threadIndex) on every participant and returns when all are done.</summary>
    /// <remarks>One job at a time: layers that share a pool must run one after another, not concurrently.</remarks>
    public void Run(Action<int> job)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("the worker pool is already running a job (a pool is shared by layers that run one after another)");
        }

        try
        {
            RunCore(job);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void RunCore(Action<int> job)
    {
        _failure = null;
        _job = job;
        Volatile.Write(ref _running, Count - 1);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_monitor)
            {
                Monitor.PulseAll(_monitor);
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
        while (Volatile.Read(ref _running) > 0)
        {
            Pause(ref spins, ref sw);
        }

        _job = null;
        var failure = mine ?? _failure;
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

        int phase = _phase;
        if (Interlocked.Increment(ref _arrived) == Count)
        {
            _arrived = 0;
            _phase = phase + 1;
            return;
        }

        int spins = 0;
        var sw = default(SpinWait);
        while (_phase == phase)
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

    // Generation 0 is "no job yet": a worker that starts late must still see the first job.
    private void Loop(int id)
    {
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(20);
                    continue;
                }

                Interlocked.Increment(ref _sleepers);
                lock (_monitor)
                {
                    while (Volatile.Read(ref _generation) == seen && !_disposed)
                    {
                        Monitor.Wait(_monitor);
                    }
                }

                Interlocked.Decrement(ref _sleepers);
            }

            if (_disposed)
            {
                return;
            }

            seen = Volatile.Read(ref _generation);
            try
            {
                _job!(id);
            }
            catch (Exception e)
            {
                _failure ??= e;
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        _disposed = true;
        lock (_monitor)
        {
            Monitor.PulseAll(_monitor);
        }

        foreach (var t in _threads)
        {
            t.Join();
        }
    }
}
