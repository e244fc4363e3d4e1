using System.Runtime.InteropServices;

namespace Ferrum.GgmlReference;

/// <summary>
/// ggml-backend device, buffer-type and buffer calls (ggml-backend.h) used to place weights the way llama.cpp does:
/// the CPU registry and device, its extra buffer types (CPU_REPACK), buffers and tensor allocation/upload.
/// </summary>
public static unsafe partial class GgmlNative
{
    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_backend_cpu_reg")]
    public static partial void* BackendCpuReg();

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_reg_get_proc_address", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void* RegGetProcAddress(void* reg, string name);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_reg_dev_count")]
    public static partial nuint RegDevCount(void* reg);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_reg_dev_get")]
    public static partial void* RegDevGet(void* reg, nuint index);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_dev_supports_op")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool DevSupportsOp(void* dev, void* op);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_dev_supports_buft")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool DevSupportsBuft(void* dev, void* buft);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_buft_name")]
    public static partial byte* BuftNamePtr(void* buft);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_buft_alloc_buffer")]
    public static partial void* BuftAllocBuffer(void* buft, nuint size);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_buft_get_alloc_size")]
    public static partial nuint BuftGetAllocSize(void* buft, void* tensor);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_buffer_free")]
    public static partial void BufferFree(void* buffer);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_buffer_get_base")]
    public static partial void* BufferGetBase(void* buffer);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_buffer_get_size")]
    public static partial nuint BufferGetSize(void* buffer);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_tensor_alloc")]
    public static partial int TensorAlloc(void* buffer, void* tensor, void* addr);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_tensor_set")]
    public static partial void TensorSet(void* tensor, void* data, nuint offset, nuint size);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_backend_cpu_buffer_from_ptr")]
    public static partial void* CpuBufferFromPtr(void* ptr, nuint size);

    /// <summary>ggml's name of a buffer type, e.g. "CPU_REPACK".</summary>
    public static string? BuftName(void* buft) => Marshal.PtrToStringUTF8((IntPtr)BuftNamePtr(buft));
}
