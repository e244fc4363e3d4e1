using Ferrum.Backends;

namespace Ferrum.Moe;

/// <summary>
/// One loaded layer of a model declared in kernels.yaml: the base of every generated <c>Model.Layer</c>, which adds the
/// typed expert stacks of its declared formats. It owns the layer description and the backend executor that runs it.
/// One <see cref="Forward"/> call at a time per layer: a concurrent call is refused (InvalidOperationException) before
/// it touches any state; load one layer per concurrent caller. Every member throws
/// <see cref="ObjectDisposedException"/> after <see cref="Dispose"/>; the layer keeps the file's mapping alive, so
/// disposing the file first is safe.
/// </summary>
public abstract class MoeModelLayer : IDisposable
{
    private readonly MoeLayer _description;
    private readonly IMoeExecutor _executor;
    private int _disposed;

    /// <summary>Takes ownership of <paramref name="description"/> and <paramref name="executor"/> (generated code calls this).</summary>
    protected MoeModelLayer(MoeLayer description, IMoeExecutor executor)
    {
        _description = description ?? throw new ArgumentNullException(nameof(description));
        _executor = executor ?? throw new ArgumentNullException(nameof(executor));
    }

    /// <summary>The layer index (the N of blk.N).</summary>
    public int Index => Description.Index;

    /// <summary>The runtime's description of the layer (router, experts, shared expert, biases, routing).</summary>
    public MoeLayer Description => Alive(_description);

    /// <summary>The backend executor that runs the layer.</summary>
    public IMoeExecutor Executor => Alive(_executor);

    /// <summary>The backend's name ("cpu", "opencl", "metal").</summary>
    public string Backend => Executor.Backend;

    /// <summary>Which kernel runs each matrix ("specialized" when generated for the declared shape).</summary>
    public IReadOnlyList<string> KernelPaths => Executor.KernelPaths;

    /// <summary>The router weights ffn_gate_inp: Experts rows of Hidden elements.</summary>
    public ExpertStack Router => Description.Router;

    /// <summary>True when gate and up come from one fused ffn_gate_up_exps tensor.</summary>
    public bool FusedGateUp => Description.FusedGateUp;

    /// <summary>
    /// Runs the MoE block (router, top-K, experts, weighted sum; no residual, no norm) for <c>x.Length / Hidden</c>
    /// tokens: <paramref name="x"/> and <paramref name="y"/> hold tokens × Hidden floats.
    /// </summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y) => Executor.Forward(x, y);

    /// <summary>Releases the executor and the layer's lease on the file mapping. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _executor.Dispose();
            _description.Dispose();
            GC.SuppressFinalize(this);
        }
    }

    /// <summary><paramref name="value"/>, or <see cref="ObjectDisposedException"/> once disposed (for the generated typed members).</summary>
    protected T Alive<T>(T value)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return value;
    }
}
