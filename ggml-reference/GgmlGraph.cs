using System.Runtime.InteropServices;

namespace Ferrum.GgmlReference;

/// <summary>
/// ggml graph construction and CPU execution (ggml.h, ggml-cpu.h, ggml-backend.h) for the MoE references:
/// tensors, mul_mat / mul_mat_id, the GLU ops, routing ops, and a CPU backend with a persistent thread pool.
/// </summary>
public static unsafe partial class GgmlNative
{
    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_init")]
    public static partial void* Init(GgmlInitParams p);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_free")]
    public static partial void Free(void* ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_tensor_overhead")]
    public static partial nuint TensorOverhead();

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_graph_overhead")]
    public static partial nuint GraphOverhead();

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_new_tensor_1d")]
    public static partial void* NewTensor1d(void* ctx, int type, long ne0);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_new_tensor_2d")]
    public static partial void* NewTensor2d(void* ctx, int type, long ne0, long ne1);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_new_tensor_3d")]
    public static partial void* NewTensor3d(void* ctx, int type, long ne0, long ne1, long ne2);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_get_data")]
    public static partial void* GetData(void* tensor);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_nbytes")]
    public static partial nuint Nbytes(void* tensor);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_mul_mat")]
    public static partial void* MulMat(void* ctx, void* a, void* b);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_mul_mat_id")]
    public static partial void* MulMatId(void* ctx, void* experts, void* b, void* ids);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_add_id")]
    public static partial void* AddId(void* ctx, void* a, void* b, void* ids);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_swiglu_split")]
    public static partial void* SwigluSplit(void* ctx, void* gate, void* up);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_swiglu_oai")]
    public static partial void* SwigluOai(void* ctx, void* gate, void* up, float alpha, float limit);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_soft_max")]
    public static partial void* SoftMax(void* ctx, void* a);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_argsort_top_k")]
    public static partial void* ArgsortTopK(void* ctx, void* a, int k);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_get_rows")]
    public static partial void* GetRows(void* ctx, void* a, void* rows);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_reshape_2d")]
    public static partial void* Reshape2d(void* ctx, void* a, long ne0, long ne1);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_reshape_3d")]
    public static partial void* Reshape3d(void* ctx, void* a, long ne0, long ne1, long ne2);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_sum_rows")]
    public static partial void* SumRows(void* ctx, void* a);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_clamp")]
    public static partial void* Clamp(void* ctx, void* a, float min, float max);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_div")]
    public static partial void* Div(void* ctx, void* a, void* b);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_mul")]
    public static partial void* Mul(void* ctx, void* a, void* b);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_add")]
    public static partial void* Add(void* ctx, void* a, void* b);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_view_2d")]
    public static partial void* View2d(void* ctx, void* a, long ne0, long ne1, nuint nb1, nuint offset);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_new_graph")]
    public static partial void* NewGraph(void* ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_build_forward_expand")]
    public static partial void BuildForwardExpand(void* graph, void* tensor);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_backend_cpu_init")]
    public static partial void* BackendCpuInit();

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_backend_cpu_set_n_threads")]
    public static partial void BackendCpuSetThreads(void* backend, int threads);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_backend_cpu_set_threadpool")]
    public static partial void BackendCpuSetThreadpool(void* backend, void* threadpool);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_threadpool_new")]
    public static partial void* ThreadpoolNew(void* parameters);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_threadpool_pause")]
    public static partial void ThreadpoolPause(void* threadpool);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_threadpool_resume")]
    public static partial void ThreadpoolResume(void* threadpool);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_threadpool_free")]
    public static partial void ThreadpoolFree(void* threadpool);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_threadpool_params_init")]
    public static partial void ThreadpoolParamsInit(void* parameters, int threads);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_graph_compute")]
    public static partial int BackendGraphCompute(void* backend, void* graph);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_free")]
    public static partial void BackendFree(void* backend);

    private static int _dataOffset = -1;

    /// <summary>
    /// Points a tensor of a no_alloc context at caller memory. The offset of ggml_tensor.data is found once by
    /// matching ggml_get_data on an allocated probe tensor, so no struct layout is assumed.
    /// </summary>
    public static void SetData(void* tensor, void* data)
    {
        if (_dataOffset < 0)
        {
            var ctx = Init(new GgmlInitParams { MemSize = 1 << 16, MemBuffer = IntPtr.Zero, NoAlloc = 0 });
            try
            {
                var probe = NewTensor1d(ctx, 0, 16);
                var ptr = GetData(probe);
                for (int off = 8; off < 512; off += 8)
                {
                    if (*(void**)((byte*)probe + off) == ptr)
                    {
                        _dataOffset = off;
                        break;
                    }
                }
            }
            finally
            {
                Free(ctx);
            }

            if (_dataOffset < 0)
            {
                throw new InvalidOperationException("ggml_tensor.data not found in the tensor struct");
            }
        }

        *(void**)((byte*)tensor + _dataOffset) = data;
    }
}

/// <summary>A ggml CPU backend with a persistent thread pool (no threads created per graph).</summary>
public sealed unsafe class GgmlCpuBackend : IDisposable
{
    private void* _backend;
    private void* _pool;
    private readonly void* _params;

    /// <summary>Creates the backend with <paramref name="threads"/> threads.</summary>
    public GgmlCpuBackend(int threads)
    {
        GgmlCpuOps.EnsureInit();
        _params = NativeMemory.AllocZeroed(4096);
        GgmlNative.ThreadpoolParamsInit(_params, threads);
        _pool = GgmlNative.ThreadpoolNew(_params);
        _backend = GgmlNative.BackendCpuInit();
        GgmlNative.BackendCpuSetThreads(_backend, threads);
        GgmlNative.BackendCpuSetThreadpool(_backend, _pool);
        Threads = threads;
    }

    /// <summary>Thread count.</summary>
    public int Threads { get; }

    /// <summary>Computes a graph; throws on a non-success status.</summary>
    public void Compute(void* graph)
    {
        int status = GgmlNative.BackendGraphCompute(_backend, graph);
        if (status != 0)
        {
            throw new InvalidOperationException($"ggml_backend_graph_compute failed with status {status}");
        }
    }

    /// <summary>Parks the pool's threads (so they do not spin while something else is measured).</summary>
    public void Pause() => GgmlNative.ThreadpoolPause(_pool);

    /// <summary>Wakes the pool's threads.</summary>
    public void Resume() => GgmlNative.ThreadpoolResume(_pool);

    public void Dispose()
    {
        if (_backend != null)
        {
            GgmlNative.BackendFree(_backend);
            _backend = null;
        }

        if (_pool != null)
        {
            GgmlNative.ThreadpoolFree(_pool);
            _pool = null;
        }

        NativeMemory.Free(_params);
    }
}
