namespace Ferrum.GgmlReference;

/// <summary>
/// One MoE layer's weights as ggml tensors, placed the way llama.cpp places CPU weights: with
/// <c>repack</c>, each weight that has a repacked layout on this CPU (asked of the CPU device, see
/// <see cref="GgmlRepack.Supports"/>) is uploaded into its own CPU_REPACK buffer (ggml interleaves the rows on upload);
/// every other weight stays where it is, wrapped in a plain CPU buffer over the caller's memory (no copy), as
/// llama.cpp does with a memory-mapped file. Build a graph on it with <see cref="GgmlMoeBlock(GgmlMoeWeights, int)"/>.
/// </summary>
public sealed unsafe class GgmlMoeWeights : IDisposable
{
    private const int TensorAlignment = 32; // ggml's TENSOR_ALIGNMENT, asserted by ggml_backend_cpu_buffer_from_ptr
    private void* _ctx;
    private readonly List<IntPtr> _buffers = [];
    private readonly List<string> _repacked = [];

    /// <summary>
    /// Creates the tensors over <paramref name="router"/>, <paramref name="gate"/>, <paramref name="up"/> and
    /// <paramref name="down"/> (contiguous ggml data of <paramref name="spec"/>'s types) and, with
    /// <paramref name="repack"/>, repacks those that have a layout. Throws before calling ggml on invalid input.
    /// </summary>
    public GgmlMoeWeights(GgmlMoeSpec spec, void* router, void* gate, void* up, void* down, bool repack)
    {
        ArgumentNullException.ThrowIfNull(spec);
        GgmlMoeBlock.Validate(spec, 1, router, gate, up, down);
        if (repack && !GgmlRepack.IsAvailable)
        {
            throw new InvalidOperationException($"ggml repack: {GgmlRepack.Unavailable}");
        }

        Spec = spec;
        int h = spec.Hidden, f = spec.ExpertFfn, e = spec.Experts;
        _ctx = GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = 8 * GgmlNative.TensorOverhead(), MemBuffer = IntPtr.Zero, NoAlloc = 1 });
        try
        {
            Router = GgmlNative.NewTensor2d(_ctx, spec.RouterType, h, e);
            Gate = GgmlNative.NewTensor3d(_ctx, spec.GateType, h, f, e);
            Up = GgmlNative.NewTensor3d(_ctx, spec.UpType, h, f, e);
            Down = GgmlNative.NewTensor3d(_ctx, spec.DownType, f, h, e);
            Place("router", Router, router, repack && GgmlRepack.Supports(spec.RouterType, h, e, stack: false));
            Place("gate", Gate, gate, repack && GgmlRepack.Supports(spec.GateType, h, f, stack: true));
            Place("up", Up, up, repack && GgmlRepack.Supports(spec.UpType, h, f, stack: true));
            Place("down", Down, down, repack && GgmlRepack.Supports(spec.DownType, f, h, stack: true));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Shape and types.</summary>
    public GgmlMoeSpec Spec { get; }

    /// <summary>The router tensor [hidden, experts].</summary>
    public void* Router { get; }

    /// <summary>The gate stack [hidden, ffn, experts].</summary>
    public void* Gate { get; }

    /// <summary>The up stack [hidden, ffn, experts].</summary>
    public void* Up { get; }

    /// <summary>The down stack [ffn, hidden, experts].</summary>
    public void* Down { get; }

    /// <summary>Which of router, gate, up, down went into a CPU_REPACK buffer (empty: none).</summary>
    public IReadOnlyList<string> Repacked => _repacked;

    private void Place(string what, void* tensor, void* data, bool repacked)
    {
        nuint bytes = GgmlNative.Nbytes(tensor);
        if (repacked)
        {
            var buft = GgmlRepack.BufferType;
            var buffer = GgmlNative.BuftAllocBuffer(buft, GgmlNative.BuftGetAllocSize(buft, tensor));
            if (buffer == null)
            {
                throw new OutOfMemoryException($"ggml repack: could not allocate {bytes} bytes for the {what} weights");
            }

            _buffers.Add((IntPtr)buffer);
            if (GgmlNative.TensorAlloc(buffer, tensor, GgmlNative.BufferGetBase(buffer)) != 0)
            {
                throw new InvalidOperationException($"ggml repack: ggml_backend_tensor_alloc failed for the {what} weights");
            }

            GgmlNative.TensorSet(tensor, data, 0, bytes); // ggml repacks (interleaves the rows) on upload
            _repacked.Add(what);
        }
        else if ((nuint)data % TensorAlignment == 0)
        {
            var buffer = GgmlNative.CpuBufferFromPtr(data, bytes);
            if (buffer == null)
            {
                throw new InvalidOperationException($"ggml: ggml_backend_cpu_buffer_from_ptr failed for the {what} weights");
            }

            _buffers.Add((IntPtr)buffer);
            if (GgmlNative.TensorAlloc(buffer, tensor, data) != 0)
            {
                throw new InvalidOperationException($"ggml: ggml_backend_tensor_alloc failed for the {what} weights");
            }
        }
        else
        {
            // Not aligned for a CPU buffer: a bare data pointer computes the same on the CPU backend.
            GgmlNative.SetData(tensor, data);
        }
    }

    public void Dispose()
    {
        foreach (var b in _buffers)
        {
            GgmlNative.BufferFree((void*)b);
        }

        _buffers.Clear();
        if (_ctx != null)
        {
            GgmlNative.Free(_ctx);
            _ctx = null;
        }
    }
}
