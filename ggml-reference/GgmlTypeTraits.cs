using System.Runtime.InteropServices;

namespace Ferrum.GgmlReference;

/// <summary>
/// ggml's per-type traits (ggml.h struct ggml_type_traits, ggml_get_type_traits) and ggml_quantize_chunk: the
/// reference dequantizer (to_float) and quantizer that GPU kernel descriptions are checked against.
/// </summary>
public static unsafe partial class GgmlNative
{
    /// <summary>Layout of ggml.h struct ggml_type_traits.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct GgmlTypeTraits
    {
        public byte* TypeName;
        public long BlockSize;
        public long BlockSizeInterleave;
        public nuint TypeSize;
        public byte IsQuantized;
        public delegate* unmanaged<void*, float*, long, void> ToFloat;
        public delegate* unmanaged<float*, void*, long, void> FromFloatRef;
    }

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_get_type_traits")]
    public static partial GgmlTypeTraits* GetTypeTraits(int type);

    /// <summary>Quantizes nrows rows of nPerRow floats (ggml_quantize_chunk); imatrix may be null for the types used here.</summary>
    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_quantize_chunk")]
    public static partial nuint QuantizeChunk(int type, float* src, void* dst, long start, long nrows, long nPerRow, float* imatrix);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_quantize_requires_imatrix")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool QuantizeRequiresImatrix(int type);
}
