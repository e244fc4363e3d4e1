using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The shape-generic CPU kernels, one per weight format and SIMD level, and the lookup that picks the best one
/// for this machine. Generated kernels specialized for declared shapes register themselves via <see cref="Register"/>.
/// </summary>
public static unsafe class CpuKernels
{
    private static readonly object Gate = new();
    private static readonly Dictionary<(GgmlType, int), CpuMatKernel> Specialized = new();

    /// <summary>Weight formats the CPU backend runs.</summary>
    public static IReadOnlyList<GgmlType> Formats { get; } =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.MXFP4,
    ];

    /// <summary>True when <paramref name="type"/> has a CPU kernel.</summary>
    public static bool Supports(GgmlType type) => Formats.Contains(type);

    /// <summary>
    /// The kernel for <paramref name="type"/>: a registered specialization for row length <paramref name="k"/> when one
    /// exists and runs at the current SIMD level, otherwise the shape-generic kernel at <see cref="CpuSimd.Level"/>.
    /// </summary>
    public static CpuMatKernel Get(GgmlType type, int k = 0)
    {
        if (k != 0)
        {
            lock (Gate)
            {
                if (Specialized.TryGetValue((type, k), out var s) && s.Level == CpuSimd.Level)
                {
                    return s;
                }
            }
        }

        return Generic(type, CpuSimd.Level);
    }

    /// <summary>Registers a kernel specialized for one row length (called by generated code's module initializer).</summary>
    public static void Register(CpuMatKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.FixedK <= 0)
        {
            throw new ArgumentException("only kernels specialized for a row length can be registered", nameof(kernel));
        }

        lock (Gate)
        {
            Specialized[(kernel.WeightType, kernel.FixedK)] = kernel;
        }
    }

    /// <summary>The shape-generic kernel for a format at a SIMD level (lower levels than requested when a format has no such path).</summary>
    public static CpuMatKernel Generic(GgmlType type, SimdLevel level)
    {
        bool avx512 = level >= SimdLevel.Avx512;
        bool avx2 = level >= SimdLevel.Avx2;
        bool vec = level >= SimdLevel.Vector128;
        return type switch
        {
            GgmlType.Q4_K when avx512 => Make4<Avx512Dots.Q4K>(type, SimdLevel.Avx512),
            GgmlType.Q6_K when avx512 => Make4<Avx512Dots.Q6K>(type, SimdLevel.Avx512),
            GgmlType.Q4_K when avx2 => Make<Avx2Dots.Q4K>(type, SimdLevel.Avx2),
            GgmlType.Q6_K when avx2 => Make<Avx2Dots.Q6K>(type, SimdLevel.Avx2),
            GgmlType.Q8_0 when avx2 => Make<Avx2Dots.Q8_0>(type, SimdLevel.Avx2),
            GgmlType.Q5_K when avx2 => Make<Avx2Dots.Q5K>(type, SimdLevel.Avx2),
            GgmlType.Q2_K when avx2 => Make<Avx2Dots.Q2K>(type, SimdLevel.Avx2),
            GgmlType.Q3_K when avx2 => Make<Avx2Dots.Q3K>(type, SimdLevel.Avx2),
            GgmlType.IQ4_XS when avx2 => Make<Avx2Dots.IQ4XS>(type, SimdLevel.Avx2),
            GgmlType.Q4_0 when avx2 => Make<Avx2Dots.Q4_0>(type, SimdLevel.Avx2),
            GgmlType.Q5_0 when avx2 => Make<Avx2Dots.Q5_0>(type, SimdLevel.Avx2),
            GgmlType.IQ4_NL when avx2 => Make<Avx2Dots.IQ4NL>(type, SimdLevel.Avx2),
            GgmlType.MXFP4 when avx2 => Make<Avx2Dots.MXFP4>(type, SimdLevel.Avx2),
            GgmlType.Q4_1 when avx2 => Make<Avx2Dots.Q4_1>(type, SimdLevel.Avx2),
            GgmlType.Q5_1 when avx2 => Make<Avx2Dots.Q5_1>(type, SimdLevel.Avx2),
            GgmlType.F32 when vec => Make<FloatDots.F32>(type, SimdLevel.Vector128),
            GgmlType.F16 when vec => Make<FloatDots.F16>(type, SimdLevel.Vector128),
            GgmlType.BF16 when vec => Make<FloatDots.BF16>(type, SimdLevel.Vector128),
            GgmlType.F32 => Make<FloatDots.F32>(type, SimdLevel.Scalar),
            GgmlType.F16 => Make<FloatDots.F16>(type, SimdLevel.Scalar),
            GgmlType.BF16 => Make<FloatDots.BF16>(type, SimdLevel.Scalar),
            GgmlType.Q4_K => Make<ScalarDots.Q4K>(type, SimdLevel.Scalar),
            GgmlType.Q5_K => Make<ScalarDots.Q5K>(type, SimdLevel.Scalar),
            GgmlType.Q6_K => Make<ScalarDots.Q6K>(type, SimdLevel.Scalar),
            GgmlType.Q2_K => Make<ScalarDots.Q2K>(type, SimdLevel.Scalar),
            GgmlType.Q3_K => Make<ScalarDots.Q3K>(type, SimdLevel.Scalar),
            GgmlType.IQ4_XS => Make<ScalarDots.IQ4XS>(type, SimdLevel.Scalar),
            GgmlType.Q8_0 => Make<ScalarDots.Q8_0>(type, SimdLevel.Scalar),
            GgmlType.Q4_0 => Make<ScalarDots.Q4_0>(type, SimdLevel.Scalar),
            GgmlType.Q5_0 => Make<ScalarDots.Q5_0>(type, SimdLevel.Scalar),
            GgmlType.IQ4_NL => Make<ScalarDots.IQ4NL>(type, SimdLevel.Scalar),
            GgmlType.MXFP4 => Make<ScalarDots.MXFP4>(type, SimdLevel.Scalar),
            GgmlType.Q4_1 => Make<ScalarDots.Q4_1>(type, SimdLevel.Scalar),
            GgmlType.Q5_1 => Make<ScalarDots.Q5_1>(type, SimdLevel.Scalar),
            _ => throw new NotSupportedException($"the CPU backend has no kernel for weight type {GgmlTypeInfo.Get(type).Name}"),
        };
    }

    /// <summary>
    /// A kernel specialized for the row length <typeparamref name="TK"/> (a JIT-time constant), for the formats that
    /// have a batched AVX-512 kernel on this machine; null otherwise. Generated code registers these for the shapes
    /// declared in kernels.yaml.
    /// </summary>
    public static CpuMatKernel? Specialize<TK>(GgmlType type)
        where TK : struct, IFixedRowLength
    {
        if (CpuSimd.Level < SimdLevel.Avx512 || TK.Value <= 0 || TK.Value % GgmlTypeInfo.Get(type).BlockSize != 0)
        {
            return null;
        }

        return type switch
        {
            GgmlType.Q4_K => MakeFixed<Avx512Dots.Q4K, TK>(type),
            GgmlType.Q6_K => MakeFixed<Avx512Dots.Q6K, TK>(type),
            _ => null,
        };
    }

    private static CpuMatKernel MakeFixed<T, TK>(GgmlType type)
        where T : struct, IRowDot4
        where TK : struct, IFixedRowLength
    {
        var info = GgmlTypeInfo.Get(type);
        var act = GgmlTypeInfo.Get(info.ActivationType).Name;
        return new CpuMatKernel(type, SimdLevel.Avx512, $"{info.Name}·{act} avx512×4 specialized k={TK.Value}", &MatDriver.RunFixed4<T, TK>, TK.Value);
    }

    private static CpuMatKernel Make4<T>(GgmlType type, SimdLevel level)
        where T : struct, IRowDot4
    {
        var info = GgmlTypeInfo.Get(type);
        var act = GgmlTypeInfo.Get(info.ActivationType).Name;
        return new CpuMatKernel(type, level, $"{info.Name}·{act} {level.ToString().ToLowerInvariant()}×4 generic", &MatDriver.Run4<T>);
    }

    private static CpuMatKernel Make<T>(GgmlType type, SimdLevel level)
        where T : struct, IRowDot
    {
        var info = GgmlTypeInfo.Get(type);
        var act = type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 ? "f32" : GgmlTypeInfo.Get(info.ActivationType).Name;
        return new CpuMatKernel(type, level, $"{info.Name}·{act} {level.ToString().ToLowerInvariant()} generic", &MatDriver.Run<T>);
    }
}
