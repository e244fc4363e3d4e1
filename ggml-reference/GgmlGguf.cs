using System.Runtime.InteropServices;

namespace Ferrum.GgmlReference;

/// <summary>ggml's own GGUF reader and writer (gguf.h) plus the few ggml.h context calls gguf_add_tensor needs.</summary>
public static unsafe partial class GgmlNative
{
    /// <summary>gguf_type ids (same numbering as GGUF value types).</summary>
    public const int GgufTypeString = 8;
    public const int GgufTypeArray = 9;

    /// <summary>struct gguf_init_params { bool no_alloc; struct ggml_context ** ctx; }, passed by value.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct GgufInitParams
    {
        public byte NoAlloc;
        public IntPtr* Ctx;
    }

    /// <summary>struct ggml_init_params { size_t mem_size; void * mem_buffer; bool no_alloc; }, passed by value.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct GgmlInitParams
    {
        public nuint MemSize;
        public IntPtr MemBuffer;
        public byte NoAlloc;
    }

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_init_from_file", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr GgufInitFromFile(string fname, GgufInitParams p);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_init_from_buffer")]
    public static partial IntPtr GgufInitFromBuffer(void* data, nuint size, GgufInitParams p);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_init_empty")]
    public static partial IntPtr GgufInitEmpty();

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_free")]
    public static partial void GgufFree(IntPtr ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_version")]
    public static partial uint GgufGetVersion(IntPtr ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_alignment")]
    public static partial nuint GgufGetAlignment(IntPtr ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_data_offset")]
    public static partial nuint GgufGetDataOffset(IntPtr ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_n_kv")]
    public static partial long GgufGetNKv(IntPtr ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_find_key", StringMarshalling = StringMarshalling.Utf8)]
    public static partial long GgufFindKey(IntPtr ctx, string key);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_key")]
    public static partial byte* GgufGetKey(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_kv_type")]
    public static partial int GgufGetKvType(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_arr_type")]
    public static partial int GgufGetArrType(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_u8")]
    public static partial byte GgufGetValU8(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_i8")]
    public static partial sbyte GgufGetValI8(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_u16")]
    public static partial ushort GgufGetValU16(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_i16")]
    public static partial short GgufGetValI16(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_u32")]
    public static partial uint GgufGetValU32(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_i32")]
    public static partial int GgufGetValI32(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_f32")]
    public static partial float GgufGetValF32(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_u64")]
    public static partial ulong GgufGetValU64(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_i64")]
    public static partial long GgufGetValI64(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_f64")]
    public static partial double GgufGetValF64(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_bool")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool GgufGetValBool(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_val_str")]
    public static partial byte* GgufGetValStr(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_arr_n")]
    public static partial nuint GgufGetArrN(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_arr_data")]
    public static partial void* GgufGetArrData(IntPtr ctx, long keyId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_arr_str")]
    public static partial byte* GgufGetArrStr(IntPtr ctx, long keyId, nuint i);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_n_tensors")]
    public static partial long GgufGetNTensors(IntPtr ctx);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_find_tensor", StringMarshalling = StringMarshalling.Utf8)]
    public static partial long GgufFindTensor(IntPtr ctx, string name);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_tensor_offset")]
    public static partial nuint GgufGetTensorOffset(IntPtr ctx, long tensorId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_tensor_name")]
    public static partial byte* GgufGetTensorName(IntPtr ctx, long tensorId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_tensor_ne")]
    public static partial long* GgufGetTensorNe(IntPtr ctx, long tensorId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_tensor_type")]
    public static partial int GgufGetTensorType(IntPtr ctx, long tensorId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_get_tensor_size")]
    public static partial nuint GgufGetTensorSize(IntPtr ctx, long tensorId);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_u8", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValU8(IntPtr ctx, string key, byte val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_i8", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValI8(IntPtr ctx, string key, sbyte val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_u16", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValU16(IntPtr ctx, string key, ushort val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_i16", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValI16(IntPtr ctx, string key, short val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_u32", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValU32(IntPtr ctx, string key, uint val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_i32", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValI32(IntPtr ctx, string key, int val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_f32", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValF32(IntPtr ctx, string key, float val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_u64", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValU64(IntPtr ctx, string key, ulong val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_i64", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValI64(IntPtr ctx, string key, long val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_f64", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValF64(IntPtr ctx, string key, double val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_bool", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValBool(IntPtr ctx, string key, [MarshalAs(UnmanagedType.U1)] bool val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_val_str", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetValStr(IntPtr ctx, string key, string val);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_arr_data", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetArrData(IntPtr ctx, string key, int type, void* data, nuint n);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_set_arr_str", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void GgufSetArrStr(IntPtr ctx, string key, byte** data, nuint n);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_add_tensor")]
    public static partial void GgufAddTensor(IntPtr ctx, IntPtr tensor);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "gguf_write_to_file", StringMarshalling = StringMarshalling.Utf8)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool GgufWriteToFile(IntPtr ctx, string fname, [MarshalAs(UnmanagedType.U1)] bool onlyMeta);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_new_tensor")]
    public static partial IntPtr GgmlNewTensor(IntPtr ctx, int type, int nDims, long* ne);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_set_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr GgmlSetName(IntPtr tensor, string name);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_get_tensor", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr GgmlGetTensor(IntPtr ctx, string name);

    /// <summary>A NUL-terminated UTF-8 string returned by ggml.</summary>
    public static string Utf8(byte* p) => Marshal.PtrToStringUTF8((IntPtr)p) ?? "";
}
