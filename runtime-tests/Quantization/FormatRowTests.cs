using System.Reflection;
using Ferrum.Backends.Cpu;
using Ferrum.Backends.OpenCL;
using Ferrum.GgmlReference;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>
/// The format rows are complete and consistent: block facts equal ggml's own type traits, marker structs repeat
/// their rows, every derived list is exactly the rows, and the CPU row of every format has a kernel at each level
/// it claims, for that format and block size.
/// </summary>
public sealed class FormatRowTests
{
    // What Ferrum runs today; a new format is added here on purpose, with its rows.
    private static readonly string[] ExpectedNames =
        ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"];

    [Fact]
    public void Rows_are_the_sixteen_weight_formats_in_list_order()
    {
        Assert.Equal(ExpectedNames, FormatRow.All.Select(r => r.Name));
        Assert.Equal(FormatRow.All.Select(r => r.Type), FormatRow.Types);
    }

    [Fact]
    public void Block_facts_equal_ggml_type_traits()
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml reference libraries (LLamaSharp.Backend.Cpu) must be present for tests");
        foreach (var row in FormatRow.All)
        {
            int id = (int)row.Type;
            Assert.Equal(GgmlNative.TypeName(id), row.Name);
            Assert.Equal(GgmlNative.BlockSize(id), row.BlockElements);
            Assert.Equal((long)GgmlNative.TypeSize(id), row.BlockBytes);
            Assert.Equal(row.BlockBytes, row.Layout.TypeSize);
            Assert.Equal(row.BlockElements, row.Layout.BlockSize);
            Assert.Same(row, FormatRow.Get(row.Type));
        }
    }

    [Fact]
    public void Activation_type_is_ggml_vec_dot_type_for_quantized_formats_and_f32_for_floats()
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml reference libraries (LLamaSharp.Backend.Cpu) must be present for tests");
        foreach (var row in FormatRow.All)
        {
            var expected = row.IsFloat ? GgmlType.F32 : (GgmlType)GgmlCpuOps.VecDotType((int)row.Type);
            Assert.Equal(expected, row.ActivationType);
        }

        Assert.Equal([GgmlType.F32, GgmlType.F16, GgmlType.BF16], FormatRow.All.Where(r => r.IsFloat).Select(r => r.Type));
    }

    [Fact]
    public void Activation_layouts_equal_ggml_block_sizes()
    {
        // The kernels step through activation rows with these constants (Q8KLayout.BlockBytes, ...).
        Assert.True(GgmlLibrary.IsAvailable, "ggml reference libraries (LLamaSharp.Backend.Cpu) must be present for tests");
        foreach (var (type, elements, bytes) in new[] { (GgmlType.Q8_0, Q8_0Layout.BlockElements, Q8_0Layout.BlockBytes), (GgmlType.Q8_1, Q8_1Layout.BlockElements, Q8_1Layout.BlockBytes), (GgmlType.Q8_K, Q8KLayout.BlockElements, Q8KLayout.BlockBytes) })
        {
            Assert.Equal(GgmlNative.BlockSize((int)type), elements);
            Assert.Equal((long)GgmlNative.TypeSize((int)type), bytes);
        }
    }

    [Fact]
    public void Unknown_types_have_no_row_and_say_so()
    {
        Assert.False(FormatRow.TryGet(GgmlType.Q8_K, out _));
        Assert.False(FormatRow.TryGet((GgmlType)9999, out _));
        var e = Assert.Throws<NotSupportedException>(() => FormatRow.Get(GgmlType.IQ2_XXS));
        Assert.Contains("iq2_xxs", e.Message);
    }

    [Fact]
    public void Marker_structs_are_exactly_the_rows_and_repeat_their_facts()
    {
        var markers = typeof(IQuantFormat).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(IQuantFormat).IsAssignableFrom(t))
            .ToList();
        var facts = markers.Select(t => (Facts)typeof(FormatRowTests).GetMethod(nameof(FactsOf), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(t).Invoke(null, null)!).ToList();
        Assert.Equal(FormatRow.Types.OrderBy(t => t), facts.Select(f => f.Type).OrderBy(t => t));
        foreach (var (f, marker) in facts.Zip(markers))
        {
            var row = FormatRow.Get(f.Type);
            Assert.Equal(row.Name.ToUpperInvariant(), marker.Name.ToUpperInvariant());
            Assert.Equal(row.BlockElements, f.BlockElements);
            Assert.Equal(row.BlockBytes, f.BlockBytes);
            Assert.Equal(row.ActivationType, f.ActivationType);
        }
    }

    [Fact]
    public void Backend_lists_are_derived_from_the_rows()
    {
        Assert.Equal(FormatRow.Types, CpuKernels.Formats);
        Assert.Equal(FormatRow.Types, Ferrum.Backends.OpenCL.OpenCLBackend.SupportedFormats);
        Assert.All(FormatRow.Types, t => Assert.True(CpuKernels.Supports(t)));
        Assert.False(CpuKernels.Supports(GgmlType.Q8_K));
        Assert.False(CpuKernels.Supports((GgmlType)9999));
    }

    [Fact]
    public void Every_cpu_row_has_a_kernel_at_each_level_it_claims()
    {
        Assert.Equal(FormatRow.Types, CpuFormatTable.All.Select(r => r.Type));
        foreach (var row in CpuFormatTable.All)
        {
            Assert.Contains(SimdLevel.Scalar, row.Levels);
            foreach (var level in row.Levels)
            {
                var k = row.At(level)!;
                Assert.Equal(row.Type, k.WeightType);
                Assert.Equal(level, k.Level);
                Assert.Equal(row.Format.BlockElements, k.BlockElements);
                Assert.Equal(row.ActivationType, k.ActivationType);
                Assert.Equal(0, k.FixedK);
                Assert.StartsWith($"{row.Format.Name}·{GgmlTypeInfo.Get(row.ActivationType).Name} {level.ToString().ToLowerInvariant()}", k.Path);
            }

            // A batched kernel (specializable for a row length) exactly at the levels whose generic kernel is the ×4 one.
            foreach (var level in Enum.GetValues<SimdLevel>())
            {
                Assert.Equal(row.At(level)?.Path.Contains("×4") == true, row.BatchedAt(level) is not null);
            }

            foreach (var level in Enum.GetValues<SimdLevel>())
            {
                var best = CpuKernels.Generic(row.Type, level);
                Assert.Equal(row.Levels.Where(l => l <= level).Max(), best.Level);
            }
        }
    }

    [Fact]
    public void Quantized_formats_run_avx2_and_the_hot_pair_avx512()
    {
        // The paths the CPU backend had before the table (and the float formats' AVX2 ×4 kernels since); a row losing one is a regression.
        foreach (var row in CpuFormatTable.All)
        {
            SimdLevel[] expected = row.Format.IsFloat ? [SimdLevel.Scalar, SimdLevel.Vector128, SimdLevel.Avx2]
                : row.Type is GgmlType.Q4_K or GgmlType.Q6_K ? [SimdLevel.Scalar, SimdLevel.Avx2, SimdLevel.Avx512]
                : [SimdLevel.Scalar, SimdLevel.Avx2];
            Assert.Equal(expected, row.Levels);
        }
    }

    [Fact]
    public unsafe void Cpu_row_activation_quantizer_gives_ggml_bytes_of_the_vec_dot_type()
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml reference libraries (LLamaSharp.Backend.Cpu) must be present for tests");
        const int k = 512;
        var x = QuantTestData.Gaussian(k, 11, 1f);
        using var xf = Cpu.NativeArray.FromFloats(x);
        foreach (var row in CpuFormatTable.All)
        {
            long bytes = row.ActivationRowBytes(k);
            using var ours = new Cpu.NativeArray(bytes);
            row.QuantizeActivation(xf.Floats, ours.Pointer, k);
            var actual = new ReadOnlySpan<byte>(ours.Pointer, (int)bytes).ToArray();
            if (row.Format.IsFloat)
            {
                // Float weights take the activations as they are.
                Assert.Equal(4L * k, bytes);
                Assert.Equal(x, new ReadOnlySpan<float>(ours.Floats, k).ToArray());
                continue;
            }

            var expected = new byte[GgmlTypeInfo.Get(row.ActivationType).RowBytes(k)];
            GgmlQuant.FromFloatCpu(GgmlCpuOps.VecDotType((int)row.Type), x, expected);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Generic_binding_by_marker_resolves_through_the_row()
    {
        foreach (var level in Enum.GetValues<SimdLevel>())
        {
            Assert.Same(CpuKernels.Generic(GgmlType.Q4_K, level), CpuKernels.For<Q4_K>(level));
            Assert.Same(CpuKernels.Generic(GgmlType.Q8_0, level), CpuKernels.For<Q8_0>(level));
            Assert.Same(CpuKernels.Generic(GgmlType.F16, level), CpuKernels.For<F16>(level));
            Assert.Same(CpuKernels.Generic(GgmlType.MXFP4, level), CpuKernelOf<MXFP4>.At(level));
        }

        // The chosen level (pinned, measured or the ISA rule: see CpuTuningTests), never above the machine.
        var chosen = CpuTuning.Current.LevelFor(GgmlType.Q6_K);
        Assert.Same(CpuKernels.Generic(GgmlType.Q6_K, chosen < CpuSimd.Supported ? chosen : CpuSimd.Supported), CpuKernelOf<Q6_K>.Kernel);
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernelOf<Q4_K>.At((SimdLevel)7));
    }

    [Fact]
    public void Cpu_lookup_of_a_format_without_a_row_names_it()
    {
        var e = Assert.Throws<NotSupportedException>(() => CpuKernels.Generic(GgmlType.IQ2_XS, SimdLevel.Scalar));
        Assert.Contains("iq2_xs", e.Message);
    }

    [Fact]
    public unsafe void Every_row_has_the_reference_quantizer_and_a_dequantizer_equal_to_ggml()
    {
        // The per-format reference paths (Quantizer, Dequantizer) are complete for the rows: quantize, then decode
        // ggml-quantized bytes exactly as ggml's to_float does.
        Assert.True(GgmlLibrary.IsAvailable, "ggml reference libraries (LLamaSharp.Backend.Cpu) must be present for tests");
        const int k = 512;
        foreach (var row in FormatRow.All)
        {
            var x = QuantTestData.Gaussian(k, 7 + (int)row.Type, 0.5f);
            var ours = new byte[row.Info.RowBytes(k)];
            Quantizer.Quantize(row.Type, x, ours);
            using var xf = Cpu.NativeArray.FromFloats(x);
            using var w = new Cpu.NativeArray(row.Info.RowBytes(k));
            GgmlCpuOps.QuantizeRows((int)row.Type, xf.Floats, w.Pointer, 1, k);
            var expected = new float[k];
            fixed (float* e = expected)
            {
                if (row.Type == GgmlType.F32)
                {
                    Buffer.MemoryCopy(w.Pointer, e, 4L * k, 4L * k); // ggml has no to_float for f32: the bytes are the values
                }
                else
                {
                    GgmlCpuOps.ToFloat((int)row.Type, w.Pointer, e, k);
                }
            }

            var decoded = new float[k];
            Dequantizer.Dequantize(row.Type, new ReadOnlySpan<byte>(w.Pointer, (int)row.Info.RowBytes(k)), decoded);
            Assert.Equal(expected, decoded);
        }
    }

    private sealed record Facts(GgmlType Type, int BlockElements, int BlockBytes, GgmlType ActivationType);

    private static Facts FactsOf<T>()
        where T : IQuantFormat => new(T.Type, T.BlockElements, T.BlockBytes, T.ActivationType);
}
