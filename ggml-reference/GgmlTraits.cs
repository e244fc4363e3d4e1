namespace Ferrum.GgmlReference;

/// <summary>
/// Pointer-level access to ggml's CPU type traits for the kernel tests and benchmarks: vec_dot, vec_dot_type,
/// the CPU (SIMD) from_float, to_float, and row quantization with validated sizes.
/// </summary>
public static unsafe class GgmlCpuOps
{
    private static int _init;

    /// <summary>Runs ggml_cpu_init once.</summary>
    public static void EnsureInit()
    {
        if (Interlocked.Exchange(ref _init, 1) == 0)
        {
            GgmlNative.CpuInit();
        }
    }

    /// <summary>ggml's vec_dot for weights of <paramref name="type"/> (the other operand is of <see cref="VecDotType"/>).</summary>
    public static delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void> VecDot(int type)
    {
        EnsureInit();
        return GgmlNative.GetTypeTraitsCpu(type)->VecDot;
    }

    /// <summary>The type ggml quantizes activations to before calling vec_dot of <paramref name="type"/>.</summary>
    public static int VecDotType(int type)
    {
        EnsureInit();
        return GgmlNative.GetTypeTraitsCpu(type)->VecDotType;
    }

    /// <summary>ggml-cpu's (SIMD) float → <paramref name="type"/> row conversion (e.g. quantize_row_q8_K).</summary>
    public static void FromFloat(int type, float* x, void* y, long n)
    {
        EnsureInit();
        var fn = GgmlNative.GetTypeTraitsCpu(type)->FromFloat;
        if (fn == null)
        {
            throw new InvalidOperationException($"ggml has no CPU from_float for type {type}");
        }

        fn(x, y, n);
    }

    /// <summary>ggml's dequantization (to_float) of <paramref name="n"/> elements.</summary>
    public static void ToFloat(int type, void* x, float* y, long n)
    {
        EnsureInit();
        var fn = GgmlNative.GetTypeTraits(type)->ToFloat;
        if (fn == null)
        {
            throw new InvalidOperationException($"ggml has no to_float for type {type}");
        }

        fn(x, y, n);
    }

    /// <summary>Quantizes <paramref name="rows"/> rows of <paramref name="perRow"/> floats with ggml's quantizer.</summary>
    public static void QuantizeRows(int type, float* src, void* dst, long rows, long perRow)
    {
        EnsureInit();
        if (GgmlNative.QuantizeRequiresImatrix(type))
        {
            throw new ArgumentException($"type {type} needs an importance matrix");
        }

        if (perRow % GgmlNative.BlockSize(type) != 0)
        {
            throw new ArgumentException($"row length {perRow} is not a multiple of the block size of type {type}");
        }

        GgmlNative.QuantizeInit(type);
        GgmlNative.QuantizeChunk(type, src, dst, 0, rows, perRow, null);
    }
}
