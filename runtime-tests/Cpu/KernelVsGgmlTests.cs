using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Cpu;

/// <summary>Every CPU dot kernel, at every SIMD level this machine has, against ggml's own vec_dot on the same bytes.</summary>
public sealed unsafe class KernelVsGgmlTests
{
    public static TheoryData<GgmlType, SimdLevel> Cases()
    {
        var data = new TheoryData<GgmlType, SimdLevel>();
        foreach (var t in CpuKernels.Formats)
        {
            foreach (var l in new[] { SimdLevel.Scalar, SimdLevel.Avx2, SimdLevel.Avx512 })
            {
                if (l <= CpuSimd.Supported)
                {
                    data.Add(t, l);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Kernel_matches_ggml_vec_dot(GgmlType type, SimdLevel level)
    {
        var kernel = CpuKernels.Generic(type, level);
        Assert.True(kernel.Level <= level);
        AssertMatchesGgml(kernel);
    }

    /// <summary>Runs <paramref name="kernel"/> on ggml-quantized weights and activations and compares every output with ggml's vec_dot.</summary>
    internal static void AssertMatchesGgml(CpuMatKernel kernel)
    {
        const int k = 512, rows = 24;
        var type = kernel.WeightType;
        var level = kernel.Level;
        var info = GgmlTypeInfo.Get(type);
        using var wf = NativeArray.FromFloats(TestData.Gaussian(k * rows, 1 + (int)type, 0.5f));
        using var w = new NativeArray(info.RowBytes(k) * rows);
        GgmlCpuOps.QuantizeRows((int)type, wf.Floats, w.Pointer, rows, k);

        int ggmlAct = GgmlCpuOps.VecDotType((int)type);
        Assert.Equal(ggmlAct, (int)(type is GgmlType.F16 or GgmlType.BF16 ? type : info.ActivationType));

        const int tokens = 6; // one group of four (the Dot4 path where a format has it) and two single tokens
        var x = TestData.Gaussian(k * tokens, 100 + (int)type);
        long actRow = kernel.ActivationType == GgmlType.F32 ? 4L * k : GgmlTypeInfo.Get(kernel.ActivationType).RowBytes(k);
        using var xf = NativeArray.FromFloats(x);
        using var act = new NativeArray(actRow * tokens);
        using var gact = new NativeArray(GgmlTypeInfo.Get((GgmlType)ggmlAct).RowBytes(k) * tokens);
        for (int t = 0; t < tokens; t++)
        {
            ActivationQuant.Quantize(kernel.ActivationType, xf.Floats + t * k, act.Pointer + t * actRow, k);
            GgmlCpuOps.FromFloat(ggmlAct, xf.Floats + t * k, gact.Pointer + t * GgmlTypeInfo.Get((GgmlType)ggmlAct).RowBytes(k), k);
        }

        using var y = new NativeArray(4L * rows * tokens);
        kernel.Run(k, w.Pointer, info.RowBytes(k), rows, act.Pointer, actRow, tokens, y.Floats, rows);

        var vecDot = GgmlCpuOps.VecDot((int)type);
        double maxErr = 0, maxAbs = 0;
        long gRow = GgmlTypeInfo.Get((GgmlType)ggmlAct).RowBytes(k);
        for (int t = 0; t < tokens; t++)
        {
            for (int r = 0; r < rows; r++)
            {
                float expected;
                vecDot(k, &expected, 0, w.Pointer + r * info.RowBytes(k), 0, gact.Pointer + t * gRow, 0, 1);
                maxErr = Math.Max(maxErr, Math.Abs(y.Floats[t * rows + r] - expected));
                maxAbs = Math.Max(maxAbs, Math.Abs(expected));
            }
        }

        // Integer sums are exact on both sides; only the float accumulation order differs. F16/BF16: ggml rounds
        // the activations to the weight type, Ferrum keeps them F32.
        Assert.True(maxAbs > 1, $"degenerate data: max |dot| {maxAbs}");
        double tol = type is GgmlType.F16 or GgmlType.BF16 ? 1e-2 : 2e-6;
        Assert.True(maxErr <= tol * maxAbs, $"{type} {level}: max error {maxErr} vs max |dot| {maxAbs}");
    }
}
