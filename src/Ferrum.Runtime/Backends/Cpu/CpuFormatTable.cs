using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The CPU backend's table: one <see cref="CpuFormatRow"/> per <see cref="FormatRow"/>, naming the dot kernel of
/// each SIMD level. <see cref="CpuKernels"/>' lists and lookups are derived from it; adding a format to the CPU
/// backend is one row here plus its dot structs (see docs/architecture.md, "Adding a format").
/// </summary>
internal static class CpuFormatTable
{
    private static readonly CpuFormatRow[] Rows =
    [
        Row(GgmlType.F32).Avx2x4<Avx2FloatDots.F32>().Vector128<FloatDots.F32>().Scalar<FloatDots.F32>(),
        Row(GgmlType.F16).Avx2x4<Avx2FloatDots.F16>().Vector128<FloatDots.F16>().Scalar<FloatDots.F16>(),
        Row(GgmlType.BF16).Avx2x4<Avx2FloatDots.BF16>().Vector128<FloatDots.BF16>().Scalar<FloatDots.BF16>(),
        Row(GgmlType.Q4_0).Avx2x4<Avx2Block32Dot<Avx2Block32Decoders.Q4_0>>().Scalar<ScalarDots.Q4_0>(),
        Row(GgmlType.Q4_1).Avx2x4<Avx2Block32Dot<Avx2Block32Decoders.Q4_1>>().Scalar<ScalarDots.Q4_1>(),
        Row(GgmlType.Q5_0).Avx2x4<Avx2Block32Dot<Avx2Block32Decoders.Q5_0>>().Scalar<ScalarDots.Q5_0>(),
        Row(GgmlType.Q5_1).Avx2x4<Avx2Block32Dot<Avx2Block32Decoders.Q5_1>>().Scalar<ScalarDots.Q5_1>(),
        Row(GgmlType.Q8_0).Avx2x4<Avx2Block32Dot<Avx2Block32Decoders.Q8_0>>().Scalar<ScalarDots.Q8_0>(),
        Row(GgmlType.Q2_K).Avx2x4<Avx2Dots.Q2K>().Scalar<ScalarDots.Q2K>(),
        Row(GgmlType.Q3_K).Avx2x4<Avx2Dots.Q3K>().Scalar<ScalarDots.Q3K>(),
        Row(GgmlType.Q4_K).Avx512x4<Avx512Dots.Q4K>().Avx2x4<Avx2Dots.Q4K>().Scalar<ScalarDots.Q4K>(),
        Row(GgmlType.Q5_K).Avx2x4<Avx2Dots.Q5K>().Scalar<ScalarDots.Q5K>(),
        Row(GgmlType.Q6_K).Avx512x4<Avx512Dots.Q6K>().Avx2x4<Avx2Dots.Q6K>().Scalar<ScalarDots.Q6K>(),
        Row(GgmlType.IQ4_NL).Avx2x4<Avx2Block32Dot<Avx2Block32Decoders.IQ4NL>>().Scalar<ScalarDots.IQ4NL>(),
        Row(GgmlType.IQ4_XS).Avx2x4<Avx2Dots.IQ4XS>().Scalar<ScalarDots.IQ4XS>(),
        Row(GgmlType.MXFP4).Avx2x4<Avx2Block32Dot<Avx2Block32Decoders.MXFP4>>().Scalar<ScalarDots.MXFP4>(),
    ];

    private static readonly CpuFormatRow?[] ById = BuildById();

    /// <summary>Every CPU row, in <see cref="FormatRow.All"/> order.</summary>
    public static IReadOnlyList<CpuFormatRow> All { get; } = Order();

    /// <summary>The row of <paramref name="type"/>, or null when the CPU backend does not run it (an array index).</summary>
    public static CpuFormatRow? Find(GgmlType type) => (uint)type < (uint)ById.Length ? ById[(int)type] : null;

    /// <summary>The row of <paramref name="type"/>; NotSupportedException naming the format otherwise.</summary>
    public static CpuFormatRow Get(GgmlType type) =>
        Find(type) ?? throw new NotSupportedException($"the CPU backend has no kernel for weight type {NameOf(type)}");

    private static string NameOf(GgmlType type) => GgmlTypeInfo.TryGet((uint)type, out var info) ? info.Name : $"id {(uint)type}";

    // Fp16 is initialized before the first row exists, so before any kernel is compiled (a kernel compiles on its
    // first call, through a row): the JIT then reads the half table's address as a constant. Compiled before that,
    // a kernel keeps a class-initialization check whose possible helper call makes the register allocator keep the
    // loop's pointers on the stack (q8_0 one token measured 99 us instead of 71).
    private static CpuFormatRow Row(GgmlType type)
    {
        Fp16.EnsureInitialized();
        return new(type);
    }

    private static CpuFormatRow?[] BuildById()
    {
        var byId = new CpuFormatRow?[Rows.Max(r => (int)r.Type) + 1];
        foreach (var r in Rows)
        {
            if (byId[(int)r.Type] is not null)
            {
                throw new InvalidOperationException($"the CPU table has two rows for {r.Format.Name}");
            }

            byId[(int)r.Type] = r;
        }

        return byId;
    }

    private static CpuFormatRow[] Order() =>
        FormatRow.All.Select(f => Find(f.Type)).OfType<CpuFormatRow>().ToArray();
}
