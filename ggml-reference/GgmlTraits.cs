using System.Runtime.InteropServices;

namespace Ferrum.GgmlReference;

/// <summary>
/// ggml's per-type function tables: ggml_get_type_traits (ggml.h: to_float, from_float_ref) and
/// ggml_get_type_traits_cpu (ggml-cpu.h: from_float, vec_dot, vec_dot_type, nrows), plus ggml_quantize_chunk.
/// Field offsets follow the structs in ggml.h / ggml-cpu.h of the ggml in LLamaSharp.Backend.Cpu 0.30.0.
/// </summary>
public static unsafe partial class GgmlNative
{
    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_cpu_init")]
    private static partial void CpuInitNative();

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_get_type_traits_cpu")]
    private static partial void* TypeTraitsCpu(int type);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_get_type_traits")]
    private static partial void* TypeTraits(int type);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_quantize_chunk")]
    private static partial nuint QuantizeChunkNative(int type, float* src, void* dst, long start, long nrows, long nPerRow, float* imatrix);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_quantize_requires_imatrix")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool QuantizeRequiresImatrix(int type);

    private static int _cpuInit;

    /// <summary>Initializes ggml-cpu's tables once (ggml_cpu_init); every helper here calls it.</summary>
    public static void CpuInit()
    {
        if (Interlocked.Exchange(ref _cpuInit, 1) == 0)
        {
            CpuInitNative();
        }
    }

    /// <summary>ggml's vec_dot for weights of <paramref name="type"/> (the other operand is of <see cref="VecDotType"/>).</summary>
    public static delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot(int type)
    {
        CpuInit();
        return *(delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>*)((byte*)TypeTraitsCpu(type) + 8);
    }

    /// <summary>The type ggml quantizes activations to before calling vec_dot of <paramref name="type"/>.</summary>
    public static int VecDotType(int type)
    {
        CpuInit();
        return *(int*)((byte*)TypeTraitsCpu(type) + 16);
    }

    /// <summary>ggml-cpu's (SIMD) float → <paramref name="type"/> row conversion (e.g. quantize_row_q8_K).</summary>
    public static void FromFloat(int type, float* x, void* y, long n)
    {
        CpuInit();
        var fn = *(delegate* unmanaged<float*, void*, long, void>*)((byte*)TypeTraitsCpu(type) + 0);
        if (fn == null)
        {
            throw new InvalidOperationException($"ggml has no CPU from_float for type {type}");
        }

        fn(x, y, n);
    }

    /// <summary>ggml's dequantization (to_float) of <paramref name="n"/> elements.</summary>
    public static void ToFloat(int type, void* x, float* y, long n)
    {
        var fn = *(delegate* unmanaged<void*, float*, long, void>*)((byte*)TypeTraits(type) + 40);
        if (fn == null)
        {
            throw new InvalidOperationException($"ggml has no to_float for type {type}");
        }

        fn(x, y, n);
    }

    /// <summary>Quantizes <paramref name="rows"/> rows of <paramref name="perRow"/> floats with ggml's reference quantizer.</summary>
    public static nuint QuantizeChunk(int type, float* src, void* dst, long rows, long perRow)
    {
        if (QuantizeRequiresImatrix(type))
        {
            throw new ArgumentException($"type {type} needs an importance matrix");
        }

        if (perRow % BlockSize(type) != 0)
        {
            throw new ArgumentException($"row length {perRow} is not a multiple of the block size of type {type}");
        }

        return QuantizeChunkNative(type, src, dst, 0, rows, perRow, null);
    }
}
