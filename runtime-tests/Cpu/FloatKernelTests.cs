using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Cpu;

/// <summary>
/// The float weight formats' kernels (F32, F16, BF16) at every level they have on this machine (scalar, Vector128,
/// AVX2 ×4 generic and ×4 specialized), against two references on the same bytes: the exact dot of ggml's decoded
/// weights (to_float) with the F32 activations, summed in double, and ggml's vec_dot.
/// <para>Tolerances. Ferrum keeps activations F32, so against the exact dot only float summation error remains:
/// |y − exact| ≤ (k + 8)·2⁻²⁴·Σ|wᵢaᵢ| (plus k subnormal spacings). ggml first rounds the activations to the weight type
/// (vec_dot_type f16 for f16 weights, bf16 for bf16, f32 for f32), which moves each product by up to ρ·|wᵢaᵢ|, with ρ the
/// type's unit roundoff (2⁻¹¹ f16, 2⁻⁸ bf16, 0 f32; f16 subnormal activations: 2⁻²⁵ absolute), so against ggml the bound
/// is Σ|wᵢ|(ρ|aᵢ| + abs) + 2(k + 8)·2⁻²⁴·Σ|wᵢaᵢ|.</para>
/// </summary>
public sealed unsafe class FloatKernelTests
{
    private static readonly GgmlType[] Types = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

    /// <summary>A row length not a multiple of 8, 16 or 32: the specialized ×4 kernel's vector loop and its tail.</summary>
    private struct K72 : IFixedRowLength
    {
        public static int Value => 72;
    }

    // Every kernel of the format on this machine: the generic one of each level (scalar, Vector128, AVX2 ×4 where
    // supported) and the ×4 kernel specialized for k = 72.
    private static List<CpuMatKernel> Kernels(GgmlType type, int k)
    {
        var list = new[] { SimdLevel.Scalar, SimdLevel.Vector128, SimdLevel.Avx2, SimdLevel.Avx512 }
            .Where(l => l <= CpuSimd.Supported).Select(l => CpuKernels.Generic(type, l)).Distinct().ToList();
        if (k == K72.Value && CpuKernels.Specialize<K72>(type) is { } fixedK)
        {
            list.Add(fixedK);
        }

        return list;
    }

    [Fact]
    public void Float_formats_have_an_avx2_x4_kernel_and_copy_activations_as_f32()
    {
        Assert.True(System.Runtime.Intrinsics.X86.Avx2.IsSupported, "this machine is expected to have AVX2 (the kernels under test)");
        foreach (var type in Types)
        {
            var k = CpuKernels.Generic(type, SimdLevel.Avx2);
            Assert.Equal(SimdLevel.Avx2, k.Level);
            Assert.Contains("avx2×4", k.Path);
            Assert.Equal(GgmlType.F32, k.ActivationType);
            Assert.NotNull(CpuKernels.Specialize<K72>(type));

            // ggml's own activation type for the format (the rounding the ggml tolerance accounts for).
            Assert.Equal((int)type, GgmlCpuOps.VecDotType((int)type));
        }
    }

    public static TheoryData<GgmlType, int> Shapes()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var t in Types)
        {
            foreach (var k in new[] { 1, 7, 16, 31, 33, 72, 75, 257 })
            {
                data.Add(t, k);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_token_count_1_to_9_with_and_without_a_token_list_matches_the_exact_dot_and_ggml(GgmlType type, int k)
    {
        const int rows = 13, tokens = 9;
        var info = GgmlTypeInfo.Get(type);
        long rowBytes = info.RowBytes(k);
        using var wf = NativeArray.FromFloats(TestData.Gaussian(k * rows, 7 + k, 0.5f));
        using var w = new NativeArray(rowBytes * rows);
        GgmlCpuOps.QuantizeRows((int)type, wf.Floats, w.Pointer, rows, k);
        using var x = NativeArray.FromFloats(TestData.Gaussian(k * tokens, 300 + k));
        var refs = References(type, w.Pointer, rowBytes, rows, x.Floats, tokens, k);

        // A token list that skips, repeats and reorders rows of the activation matrix.
        int* list = stackalloc int[tokens] { 8, 0, 3, 3, 7, 1, 5, 2, 6 };
        foreach (var kernel in Kernels(type, k))
        {
            using var act = new NativeArray(4L * k * tokens);
            for (int t = 0; t < tokens; t++)
            {
                CpuFormatTable.Get(type).QuantizeActivation(x.Floats + t * k, act.Pointer + 4L * t * k, k);
            }

            for (int n = 1; n <= tokens; n++)
            {
                foreach (bool indexed in new[] { false, true })
                {
                    using var y = new NativeArray(4L * rows * n);
                    y.Floats[0] = float.NaN; // every output must be written
                    kernel.Run(k, w.Pointer, rowBytes, rows, act.Pointer, 4L * k, indexed ? list : null, n, y.Floats, rows);
                    for (int t = 0; t < n; t++)
                    {
                        int src = indexed ? list[t] : t;
                        for (int r = 0; r < rows; r++)
                        {
                            var (exact, abs, ggml, ggmlTol) = refs[src, r];
                            double got = y.Floats[t * rows + r];
                            if (!(Math.Abs(got - exact) <= ((k + 8) * Math.Pow(2, -24) * abs) + (k * float.Epsilon)))
                            {
                                Assert.Fail($"{Where(kernel, k, n, indexed, t, r)}: {got} vs exact {exact} (Σ|wa| {abs})");
                            }

                            if (!(Math.Abs(got - ggml) <= ggmlTol))
                            {
                                Assert.Fail($"{Where(kernel, k, n, indexed, t, r)}: {got} vs ggml {ggml} (tolerance {ggmlTol})");
                            }
                        }
                    }
                }
            }
        }
    }

    private static string Where(CpuMatKernel kernel, int k, int n, bool indexed, int t, int r) =>
        $"{kernel.Path} k={k} tokens={n}{(indexed ? " (token list)" : "")} token {t} row {r}";

    // Per (token, row): the exact dot in double, Σ|wa|, ggml's vec_dot and the tolerance against it (class remarks).
    private static (double Exact, double Abs, float Ggml, double GgmlTol)[,] References(GgmlType type, byte* w, long rowBytes, int rows, float* x, int tokens, int k)
    {
        var info = GgmlTypeInfo.Get(type);
        using var wd = new NativeArray(4L * k * rows);
        if (type == GgmlType.F32)
        {
            Buffer.MemoryCopy(w, wd.Pointer, 4L * k * rows, 4L * k * rows); // ggml has no to_float for f32: the bytes are the values
        }
        else
        {
            GgmlCpuOps.ToFloat((int)type, w, wd.Floats, (long)k * rows);
        }
        long gRow = info.RowBytes(k); // vec_dot_type is the weight type for the float formats
        using var gact = new NativeArray(gRow * tokens);
        for (int t = 0; t < tokens; t++)
        {
            GgmlCpuOps.FromFloat((int)type, x + t * k, gact.Pointer + t * gRow, k);
        }

        double rho = type switch { GgmlType.F16 => Math.Pow(2, -11), GgmlType.BF16 => Math.Pow(2, -8), _ => 0 };
        double subnormal = type == GgmlType.F16 ? Math.Pow(2, -25) : 0;
        var vecDot = GgmlCpuOps.VecDot((int)type);
        var r = new (double, double, float, double)[tokens, rows];
        for (int t = 0; t < tokens; t++)
        {
            for (int row = 0; row < rows; row++)
            {
                double exact = 0, abs = 0, shift = 0;
                for (int i = 0; i < k; i++)
                {
                    double wi = wd.Floats[row * k + i], ai = x[t * k + i];
                    exact += wi * ai;
                    abs += Math.Abs(wi * ai);
                    shift += Math.Abs(wi) * ((rho * Math.Abs(ai)) + subnormal);
                }

                float g;
                vecDot(k, &g, 0, w + row * rowBytes, 0, gact.Pointer + t * gRow, 0, 1);
                r[t, row] = (exact, abs, g, shift + (2 * (k + 8) * Math.Pow(2, -24) * (abs + shift)) + (k * float.Epsilon));
            }
        }

        return r;
    }

    public static TheoryData<GgmlType, int> EveryValueCases()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var t in new[] { GgmlType.F16, GgmlType.BF16 })
        {
            data.Add(t, 1);
            data.Add(t, 4);
        }

        return data;
    }

    /// <summary>
    /// Every one of the 65536 bit patterns as the single nonzero weight of a row of 40 (in the vector loop for even
    /// patterns, in the tail for odd ones), against all-ones activations: each output must be the value itself, bit
    /// for bit (System.Half's conversion for f16, the top half of a float for bf16), NaN for a NaN pattern, ±∞ for ±∞.
    /// One token and four (the ×4 path).
    /// </summary>
    [Theory]
    [MemberData(nameof(EveryValueCases))]
    public void Every_16_bit_pattern_converts_exactly_including_subnormals_inf_and_nan(GgmlType type, int tokens)
    {
        const int k = 40, rows = 65536;
        using var w = new NativeArray(2L * k * rows);
        var h = (ushort*)w.Pointer;
        for (int v = 0; v < rows; v++)
        {
            h[(long)v * k + ((v & 1) == 0 ? (v >> 1) % 32 : 32 + ((v >> 1) % 8))] = (ushort)v;
        }

        using var act = new NativeArray(4L * k * tokens);
        for (int i = 0; i < k * tokens; i++)
        {
            act.Floats[i] = 1f;
        }

        foreach (var kernel in Kernels(type, k))
        {
            using var y = new NativeArray(4L * rows * tokens);
            kernel.Run(k, w.Pointer, 2L * k, rows, act.Pointer, 4L * k, tokens, y.Floats, rows);
            for (int t = 0; t < tokens; t++)
            {
                for (int v = 0; v < rows; v++)
                {
                    float expected = type == GgmlType.F16 ? (float)BitConverter.UInt16BitsToHalf((ushort)v) : BitConverter.Int32BitsToSingle(v << 16);
                    float got = y.Floats[t * rows + v];
                    if (float.IsNaN(expected) ? !float.IsNaN(got) : got != expected)
                    {
                        Assert.Fail($"{kernel.Path} token {t}: pattern 0x{v:x4} should give {expected:R}, got {got:R}");
                    }
                }
            }
        }
    }

    public static TheoryData<GgmlType> TypeCases() => [.. Types];

    /// <summary>
    /// Rows mixing special weights with ordinary ones, specials both in the vector loop and in the tail (k = 75):
    /// subnormals and signed zeros give the exact dot; +∞ gives +∞ and −∞ gives −∞ (positive activations); NaN, or
    /// +∞ with −∞, gives NaN — as ggml's vec_dot, which is checked to agree on every special row.
    /// </summary>
    [Theory]
    [MemberData(nameof(TypeCases))]
    public void Special_weights_propagate_like_ggml(GgmlType type)
    {
        const int k = 75, tokens = 6;
        float tiny = type switch { GgmlType.F16 => (float)BitConverter.UInt16BitsToHalf(1), GgmlType.BF16 => BitConverter.Int32BitsToSingle(1 << 16), _ => float.Epsilon };
        float maxSub = type switch { GgmlType.F16 => (float)BitConverter.UInt16BitsToHalf(0x03ff), GgmlType.BF16 => BitConverter.Int32BitsToSingle(0x007f << 16), _ => BitConverter.Int32BitsToSingle(0x007fffff) };
        var specials = new (string Name, (int Pos, float Value)[] Set, float Expect)[]
        {
            ("subnormals and signed zeros", [(0, tiny), (5, -tiny), (9, maxSub), (40, maxSub), (70, 0f), (71, -0f), (74, tiny)], 0f),
            ("+inf in the vector loop", [(3, float.PositiveInfinity)], float.PositiveInfinity),
            ("-inf in the tail", [(73, float.NegativeInfinity)], float.NegativeInfinity),
            ("NaN in the vector loop", [(17, float.NaN)], float.NaN),
            ("NaN in the tail", [(66, float.NaN)], float.NaN),
            ("+inf and -inf", [(1, float.PositiveInfinity), (60, float.NegativeInfinity)], float.NaN),
        };
        int rows = specials.Length;
        var values = TestData.Gaussian(k * rows, 5, 0.25f);
        for (int r = 0; r < rows; r++)
        {
            if (r == 0)
            {
                Array.Clear(values, 0, k); // the subnormal row: nothing else, so the exact check sees the tiny values
            }

            foreach (var (pos, v) in specials[r].Set)
            {
                values[r * k + pos] = v;
            }
        }

        var info = GgmlTypeInfo.Get(type);
        long rowBytes = info.RowBytes(k);
        using var w = new NativeArray(rowBytes * rows);
        for (int i = 0; i < values.Length; i++)
        {
            switch (type)
            {
                case GgmlType.F32: ((float*)w.Pointer)[i] = values[i]; break;
                case GgmlType.F16: ((ushort*)w.Pointer)[i] = BitConverter.HalfToUInt16Bits((Half)values[i]); break;
                default: ((ushort*)w.Pointer)[i] = (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16); break; // the values are exact in bf16 or specials
            }
        }

        // Positive activations in [0.5, 2), exact in every weight type, so ∞ keeps its sign.
        var rng = new Random(9);
        using var x = NativeArray.FromFloats(Enumerable.Range(0, k * tokens).Select(_ => (float)(0.5 + (1.5 * rng.Next(64) / 64))).ToArray());
        using var gact = new NativeArray(rowBytes * tokens);
        for (int t = 0; t < tokens; t++)
        {
            GgmlCpuOps.FromFloat((int)type, x.Floats + t * k, gact.Pointer + t * rowBytes, k);
        }

        var vecDot = GgmlCpuOps.VecDot((int)type);
        foreach (var kernel in Kernels(type, k))
        {
            using var y = new NativeArray(4L * rows * tokens);
            kernel.Run(k, w.Pointer, rowBytes, rows, x.Pointer, 4L * k, tokens, y.Floats, rows);
            for (int t = 0; t < tokens; t++)
            {
                for (int r = 0; r < rows; r++)
                {
                    float got = y.Floats[t * rows + r], g;
                    vecDot(k, &g, 0, w.Pointer + r * rowBytes, 0, gact.Pointer + t * rowBytes, 0, 1);
                    string where = $"{kernel.Path} token {t}, {specials[r].Name}";
                    if (r == 0)
                    {
                        double exact = 0;
                        foreach (var (pos, v) in specials[0].Set)
                        {
                            exact += (double)v * x.Floats[t * k + pos];
                        }

                        Assert.True(exact != 0, "the subnormal row must not cancel out");
                        // f32 subnormal products round to the subnormal spacing; the two maxSub terms dominate.
                        double tol = (Math.Abs(exact) * 1e-6) + (8 * (double)float.Epsilon);
                        Assert.True(Math.Abs(got - exact) <= tol, $"{where}: {got:R} vs exact {exact:R}");
                        Assert.True(Math.Abs(g - exact) <= tol, $"{where}: ggml {g:R} vs exact {exact:R}");
                    }
                    else
                    {
                        Assert.True(got.Equals(specials[r].Expect), $"{where}: expected {specials[r].Expect}, got {got}");
                        Assert.True(g.Equals(specials[r].Expect), $"{where}: ggml gives {g}, the test expects {specials[r].Expect}");
                    }
                }
            }
        }
    }
}
