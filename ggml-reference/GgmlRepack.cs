namespace Ferrum.GgmlReference;

/// <summary>
/// ggml-cpu's CPU_REPACK buffer type (interleaved rows, llama.cpp's default placement of CPU weights), found the way
/// llama.cpp finds it: the CPU registry's <c>ggml_backend_dev_get_extra_bufts</c> proc address, the extra buffer
/// type named "CPU_REPACK"; else the C++-mangled <c>ggml_backend_cpu_repack_buffer_type()</c> export.
/// Whether a weight has a repacked layout is asked of the CPU device (<c>ggml_backend_dev_supports_op</c>) on a
/// probe tensor in that buffer type, never assumed: uploading a weight without a layout into it aborts the process.
/// </summary>
public static unsafe class GgmlRepack
{
    /// <summary>ggml's name of the buffer type.</summary>
    public const string BufferTypeName = "CPU_REPACK";

    private const string ExtraBuftsProc = "ggml_backend_dev_get_extra_bufts";
    private const string MangledBuft = "_Z35ggml_backend_cpu_repack_buffer_typev";
    private const int TypeF32 = 0, TypeI32 = 26;
    private static readonly object Gate = new();
    private static readonly Dictionary<(int Type, long Ne0, long Ne1, bool Stack), bool> Cache = new();
    private static bool _searched;
    private static void* _buft, _dev;
    private static string _foundVia = "", _why = "";

    /// <summary>The CPU_REPACK buffer type, or null (see <see cref="Unavailable"/>).</summary>
    public static void* BufferType
    {
        get
        {
            Find();
            return _buft;
        }
    }

    /// <summary>True when the buffer type was found and the CPU device answers for it.</summary>
    public static bool IsAvailable => BufferType != null;

    /// <summary>How it was found: the extra_bufts proc address or the mangled export.</summary>
    public static string FoundVia
    {
        get
        {
            Find();
            return _foundVia;
        }
    }

    /// <summary>Why the repacked path is not available (empty when it is).</summary>
    public static string Unavailable
    {
        get
        {
            Find();
            return _why;
        }
    }

    /// <summary>
    /// True when ggml's CPU device runs <c>mul_mat_id</c> (<paramref name="stack"/>: a [ne0, ne1, experts] stack) or
    /// <c>mul_mat</c> (a [ne0, ne1] matrix) on a weight of this type and shape held in a CPU_REPACK buffer, i.e.
    /// the weight has a repacked layout on this CPU. Validated before any native call.
    /// </summary>
    public static bool Supports(int type, long ne0, long ne1, bool stack)
    {
        GgmlMoeBlock.CheckType("weight", type, ne0);
        if (ne1 < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ne1), ne1, "ggml repack: a weight needs at least one row");
        }

        if (!IsAvailable)
        {
            return false;
        }

        lock (Gate)
        {
            if (!Cache.TryGetValue((type, ne0, ne1, stack), out var ok))
            {
                ok = Probe(type, ne0, ne1, stack);
                Cache[(type, ne0, ne1, stack)] = ok;
            }

            return ok;
        }
    }

    private static void Find()
    {
        lock (Gate)
        {
            if (_searched)
            {
                return;
            }

            _searched = true;
            if (!GgmlLibrary.IsAvailable)
            {
                _why = "ggml natives not found";
                return;
            }

            GgmlCpuOps.EnsureInit();
            var reg = GgmlNative.BackendCpuReg();
            if (reg == null || GgmlNative.RegDevCount(reg) < 1)
            {
                _why = "ggml's CPU backend registry has no device";
                return;
            }

            _dev = GgmlNative.RegDevGet(reg, 0);
            void* buft = null;
            var proc = (delegate* unmanaged<void*, void**>)GgmlNative.RegGetProcAddress(reg, ExtraBuftsProc);
            if (proc != null)
            {
                // A null-terminated array of the CPU device's extra buffer types.
                var list = proc(_dev);
                for (int i = 0; list != null && i < 64 && list[i] != null; i++)
                {
                    if (GgmlNative.BuftName(list[i]) == BufferTypeName)
                    {
                        buft = list[i];
                        _foundVia = ExtraBuftsProc;
                        break;
                    }
                }
            }

            if (buft == null)
            {
                var mangled = GgmlLibrary.TryGetExport(GgmlLibrary.Cpu, MangledBuft);
                if (mangled != IntPtr.Zero)
                {
                    buft = ((delegate* unmanaged<void*>)mangled)();
                    _foundVia = MangledBuft;
                    if (buft != null && GgmlNative.BuftName(buft) != BufferTypeName)
                    {
                        buft = null;
                    }
                }
            }

            if (buft == null)
            {
                _why = $"ggml-cpu has no {BufferTypeName} buffer type (neither {ExtraBuftsProc} nor {MangledBuft})";
                return;
            }

            _buft = buft;

            // The device answers for a repack buffer only when the buffer type is one of its registered extra types;
            // otherwise it would accept any weight (and the upload of one without a layout would abort). f32 never has
            // a repacked layout, so an accepted f32 probe means the answers cannot be trusted.
            if (Probe(TypeF32, 64, 8, stack: true))
            {
                _buft = null;
                _why = $"{BufferTypeName} is not one of the CPU device's extra buffer types here (it accepts an f32 probe)";
            }
        }
    }

    // A tensor of the weight's type, row length and row count (two experts for a stack, so it stays 3-D) in a small
    // buffer of the repack type, and the op llama.cpp would run on it; only init_tensor runs, no upload.
    private static bool Probe(int type, long ne0, long ne1, bool stack)
    {
        var ctx = GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = 8 * GgmlNative.TensorOverhead(), MemBuffer = IntPtr.Zero, NoAlloc = 1 });
        void* buffer = null;
        try
        {
            void* w, op;
            if (stack)
            {
                w = GgmlNative.NewTensor3d(ctx, type, ne0, ne1, 2);
                var b = GgmlNative.NewTensor3d(ctx, TypeF32, ne0, 1, 1);
                var ids = GgmlNative.NewTensor2d(ctx, TypeI32, 1, 1);
                op = GgmlNative.MulMatId(ctx, w, b, ids);
            }
            else
            {
                w = GgmlNative.NewTensor2d(ctx, type, ne0, ne1);
                var b = GgmlNative.NewTensor2d(ctx, TypeF32, ne0, 1);
                op = GgmlNative.MulMat(ctx, w, b);
            }

            nuint size = GgmlNative.BuftGetAllocSize(_buft, w);
            buffer = GgmlNative.BuftAllocBuffer(_buft, size);
            if (buffer == null)
            {
                throw new OutOfMemoryException($"ggml repack: could not allocate a {size}-byte {BufferTypeName} probe buffer");
            }

            if (GgmlNative.TensorAlloc(buffer, w, GgmlNative.BufferGetBase(buffer)) != 0)
            {
                return false;
            }

            return GgmlNative.DevSupportsOp(_dev, op);
        }
        finally
        {
            if (buffer != null)
            {
                GgmlNative.BufferFree(buffer);
            }

            GgmlNative.Free(ctx);
        }
    }
}
