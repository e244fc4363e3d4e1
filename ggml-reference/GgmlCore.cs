using System.Runtime.InteropServices;

namespace Ferrum.GgmlReference;

/// <summary>Basic ggml type queries (ggml.h). Further declarations live in files named after their ggml header area.</summary>
public static unsafe partial class GgmlNative
{
    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_blck_size")]
    public static partial long BlockSize(int type);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_type_size")]
    public static partial nuint TypeSize(int type);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_type_name")]
    public static partial byte* TypeNamePtr(int type);

    /// <summary>ggml's name of a type id, e.g. "q4_K".</summary>
    public static string? TypeName(int type) => Marshal.PtrToStringUTF8((IntPtr)TypeNamePtr(type));
}
