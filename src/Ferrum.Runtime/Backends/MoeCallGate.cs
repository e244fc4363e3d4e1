namespace Ferrum.Backends;

/// <summary>
/// One call at a time on an executor, and no <c>Dispose</c> during a call: a second caller is refused before it
/// touches any state (the GPU executors share one queue and one set of scratch buffers).
/// </summary>
/// <param name="what">The executor, for messages ("OpenCL MoE executor").</param>
internal sealed class MoeCallGate(string what)
{
    private int _busy;
    private volatile bool _disposed;

    /// <summary>Enters a call; <see cref="InvalidOperationException"/> when one runs, <see cref="ObjectDisposedException"/> after disposal.</summary>
    public Scope Enter(object owner)
    {
        ObjectDisposedException.ThrowIf(_disposed, owner);
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            throw new InvalidOperationException($"this {what} is already running a call on another thread; use one executor per concurrent caller");
        }

        if (_disposed)
        {
            Volatile.Write(ref _busy, 0);
            ObjectDisposedException.ThrowIf(true, owner);
        }

        return new Scope(this);
    }

    /// <summary>
    /// True the first time (the caller then releases its resources), false after; <see cref="InvalidOperationException"/>
    /// while a call runs. The gate stays closed afterwards.
    /// </summary>
    public bool TryBeginDispose()
    {
        if (_disposed)
        {
            return false;
        }

        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            throw new InvalidOperationException($"cannot dispose the {what} while a call is running");
        }

        _disposed = true;
        return true;
    }

    /// <summary>Leaves the call on dispose.</summary>
    public readonly ref struct Scope(MoeCallGate gate)
    {
        /// <summary>Leaves the call.</summary>
        public void Dispose() => Volatile.Write(ref gate._busy, 0);
    }
}
