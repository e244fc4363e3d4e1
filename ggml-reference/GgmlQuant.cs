using System.Runtime.InteropServices;

namespace Ferrum.GgmlReference;

/// <summary>ggml's type traits (ggml.h struct ggml_type_traits, 56 bytes on 64-bit).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct GgmlTypeTraits
{
    public byte* TypeName;
    public long BlockSize;
    public long BlockSizeInterleave;
    public nuint TypeSize;

    // C bool, then 7 bytes of padding before the function pointers.
    public byte IsQuantized;

    /// <summary>void to_float(const void* x, float* y, int64_t k).</summary>
    public delegate* unmanaged<void*, float*, long, void> ToFloat;

    /// <summary>void from_float_ref(const float* x, void* y, int64_t k).</summary>
    public delegate* unmanaged<float*, void*, long, void> FromFloatRef;
}

/// <summary>ggml-cpu's type traits (ggml-cpu.h struct ggml_type_traits_cpu, 32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct GgmlTypeTraitsCpu
{
    /// <summary>void from_float(const float* x, void* y, int64_t k) (SIMD activation quantizer).</summary>
    public delegate* unmanaged<float*, void*, long, void> FromFloat;

    /// <summary>void vec_dot(int n, float* s, size_t bs, const void* x, size_t bx, const void* y, size_t by, int nrc).</summary>
    public delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot;

    public int VecDotType;
    public long NRows;
}

/// <summary>Quantization entry points of ggml-base and ggml-cpu (ggml.h, ggml-cpu.h).</summary>
public static unsafe partial class GgmlNative
{
    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_get_type_traits")]
    public static partial GgmlTypeTraits* GetTypeTraits(int type);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_get_type_traits_cpu")]
    public static partial GgmlTypeTraitsCpu* GetTypeTraitsCpu(int type);

    [LibraryImport(GgmlLibrary.Cpu, EntryPoint = "ggml_cpu_init")]
    public static partial void CpuInit();

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_quantize_init")]
    public static partial void QuantizeInit(int type);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_quantize_requires_imatrix")]
    [return: MarshalAs(UnmanagedType.U1)]
    public static partial bool QuantizeRequiresImatrix(int type);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_quantize_chunk")]
    public static partial nuint QuantizeChunk(int type, float* src, void* dst, long start, long nrows, long nPerRow, float* imatrix);

    /// <summary>ggml-quants.c quantize_row_q8_K_ref (exported by ggml-base; Q8_K's type traits have no from_float_ref).</summary>
    [LibraryImport(GgmlLibrary.Base, EntryPoint = "quantize_row_q8_K_ref")]
    public static partial void QuantizeRowQ8KRef(float* x, void* y, long k);

    /// <summary>ggml-quants.c dequantize_row_q8_K (Q8_K's type traits have no to_float).</summary>
    [LibraryImport(GgmlLibrary.Base, EntryPoint = "dequantize_row_q8_K")]
    public static partial void DequantizeRowQ8K(void* x, float* y, long k);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_fp32_to_bf16")]
    public static partial ushort Fp32ToBf16(float value);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_fp16_to_fp32")]
    public static partial float Fp16ToFp32(ushort value);

    [LibraryImport(GgmlLibrary.Base, EntryPoint = "ggml_fp32_to_fp16")]
    public static partial ushort Fp32ToFp16(float value);
}

/// <summary>Safe, validated wrappers over ggml's quantization functions; bad sizes throw instead of aborting in ggml.</summary>
public static unsafe class GgmlQuant
{
    private static readonly object Gate = new();
    private static bool _initialized;

    private static void Init(int type)
    {
        lock (Gate)
        {
            if (!_initialized)
            {
                GgmlNative.CpuInit();
                _initialized = true;
            }

            GgmlNative.QuantizeInit(type);
        }
    }

    private static GgmlTypeTraits Traits(int type)
    {
        Init(type);
        return *GgmlNative.GetTypeTraits(type);
    }

    private static void CheckSizes(int type, int elements, int bytes)
    {
        var bs = GgmlNative.BlockSize(type);
        var ts = (long)GgmlNative.TypeSize(type);
        if (bs <= 0 || elements % bs != 0 || elements / bs * ts != bytes)
        {
            throw new ArgumentException($"ggml type {type}: {elements} elements and {bytes} bytes do not match (block {bs}, {ts} bytes)");
        }
    }

    /// <summary>ggml's to_float of whole blocks.</summary>
    public static void ToFloat(int type, ReadOnlySpan<byte> blocks, Span<float> dst)
    {
        CheckSizes(type, dst.Length, blocks.Length);
        var t = Traits(type);
        if (t.ToFloat == null)
        {
            throw new InvalidOperationException($"ggml type {type} has no to_float");
        }

        fixed (byte* x = blocks)
        fixed (float* y = dst)
        {
            t.ToFloat(x, y, dst.Length);
        }
    }

    /// <summary>ggml's dequantize_row_q8_K.</summary>
    public static void DequantizeRowQ8K(ReadOnlySpan<byte> blocks, Span<float> dst)
    {
        CheckSizes(15, dst.Length, blocks.Length);
        fixed (byte* x = blocks)
        fixed (float* y = dst)
        {
            GgmlNative.DequantizeRowQ8K(x, y, dst.Length);
        }
    }

    /// <summary>ggml's reference quantizer: from_float_ref, or quantize_row_q8_K_ref for Q8_K.</summary>
    public static void FromFloatRef(int type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        CheckSizes(type, src.Length, dst.Length);
        var t = Traits(type);
        if (type == 15)
        {
            fixed (float* x = src)
            fixed (byte* y = dst)
            {
                GgmlNative.QuantizeRowQ8KRef(x, y, src.Length);
            }

            return;
        }

        if (t.FromFloatRef == null)
        {
            throw new InvalidOperationException($"ggml type {type} has no from_float_ref");
        }

        fixed (float* x = src)
        fixed (byte* y = dst)
        {
            t.FromFloatRef(x, y, src.Length);
        }
    }

    /// <summary>ggml_quantize_chunk without an importance matrix: <paramref name="rows"/> rows of <paramref name="perRow"/>.</summary>
    public static void QuantizeChunk(int type, ReadOnlySpan<float> src, Span<byte> dst, int rows, int perRow)
    {
        if ((long)rows * perRow != src.Length)
        {
            throw new ArgumentException($"{rows} rows of {perRow} is not {src.Length} elements");
        }

        CheckSizes(type, src.Length, dst.Length);
        CheckSizes(type, perRow, (int)(perRow / GgmlNative.BlockSize(type) * (long)GgmlNative.TypeSize(type)));
        Init(type);
        if (GgmlNative.QuantizeRequiresImatrix(type))
        {
            throw new ArgumentException($"ggml type {type} requires an importance matrix");
        }

        fixed (float* x = src)
        fixed (byte* y = dst)
        {
            var written = GgmlNative.QuantizeChunk(type, x, y, 0, rows, perRow, null);
            if ((long)written != dst.Length)
            {
                throw new InvalidOperationException($"ggml_quantize_chunk wrote {written} bytes, expected {dst.Length}");
            }
        }
    }

    /// <summary>ggml-cpu's from_float (the SIMD activation quantizer the CPU backend actually runs).</summary>
    public static void FromFloatCpu(int type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        CheckSizes(type, src.Length, dst.Length);
        Init(type);
        var t = GgmlNative.GetTypeTraitsCpu(type);
        if (t->FromFloat == null)
        {
            throw new InvalidOperationException($"ggml type {type} has no CPU from_float");
        }

        fixed (float* x = src)
        fixed (byte* y = dst)
        {
            t->FromFloat(x, y, src.Length);
        }
    }

    /// <summary>The CPU backend's activation (vec_dot) type for a weight type.</summary>
    public static int VecDotType(int type)
    {
        Init(type);
        return GgmlNative.GetTypeTraitsCpu(type)->VecDotType;
    }

    /// <summary>ggml-cpu's vec_dot of one weight row with one activation row of its vec_dot type.</summary>
    public static float VecDot(int type, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations, int elements)
    {
        CheckSizes(type, elements, weights.Length);
        Init(type);
        var t = GgmlNative.GetTypeTraitsCpu(type);
        CheckSizes(t->VecDotType, elements, activations.Length);
        if (t->VecDot == null)
        {
            throw new InvalidOperationException($"ggml type {type} has no vec_dot");
        }

        float s;
        fixed (byte* x = weights)
        fixed (byte* y = activations)
        {
            t->VecDot(elements, &s, 0, x, 0, y, 0, 1);
        }

        return s;
    }
}
