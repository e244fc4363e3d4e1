using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Cpu;

/// <summary>
/// The AVX2 batched (×4) kernels of the 32-element block formats (<see cref="Avx2Block32Dot{TB}"/>) against ggml's own
/// vec_dot on the same weight bytes: every token count from 1 to 9 (groups of four and their tails), row lengths of
/// one block up to non-multiples of 256, gathered token lists (tokenIndex with a permutation and a repeat), the
/// shape-generic and a row-length-specialized kernel; and a non-finite activation giving only its own token NaN.
/// </summary>
public sealed unsafe class Avx2BatchedBlocks32Tests
{
    private static readonly GgmlType[] Formats =
        [GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.IQ4_NL, GgmlType.MXFP4];

    private static readonly int[] TokenCounts = [1, 2, 3, 4, 5, 7, 8, 9];

    public static TheoryData<GgmlType> AllFormats()
    {
        var data = new TheoryData<GgmlType>();
        foreach (var t in Formats)
        {
            data.Add(t);
        }

        return data;
    }

    private struct K288 : IFixedRowLength
    {
        public static int Value => 288;
    }

    private static CpuMatKernel Batched(GgmlType type)
    {
        Assert.True(CpuSimd.Supported >= SimdLevel.Avx2, "these kernels need AVX2 (this machine has none)");
        var kernel = CpuFormatTable.Get(type).At(SimdLevel.Avx2);
        Assert.NotNull(kernel);
        Assert.Contains("×4", kernel.Path);
        return kernel;
    }

    [Theory]
    [MemberData(nameof(AllFormats))]
    public void Batched_kernel_matches_ggml_vec_dot_for_every_token_count_and_row_length(GgmlType type)
    {
        var kernel = Batched(type);
        foreach (int k in new[] { 32, 96, 288, 544 })
        {
            using var c = new Case(type, k, rows: 11, pool: 12, seed: k);
            foreach (int tokens in TokenCounts)
            {
                c.Check(kernel, tokens, gathered: false);
                c.Check(kernel, tokens, gathered: true);
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllFormats))]
    public void Specialized_kernel_matches_ggml_vec_dot(GgmlType type)
    {
        Batched(type);
        var kernel = CpuFormatTable.Get(type).BatchedAt(SimdLevel.Avx2)?.Make<K288>();
        Assert.NotNull(kernel);
        Assert.Equal(288, kernel.FixedK);
        using var c = new Case(type, 288, rows: 9, pool: 12, seed: 7);
        foreach (int tokens in TokenCounts)
        {
            c.Check(kernel, tokens, gathered: true);
        }
    }

    [Theory]
    [MemberData(nameof(AllFormats))]
    public void A_non_finite_activation_makes_only_its_own_token_NaN(GgmlType type)
    {
        var kernel = Batched(type);
        const int k = 288, rows = 9, tokens = 7; // tokens 0..3 through Dot4, 4..6 through the single-token dot
        foreach (var (bad, value) in new[] { (2, float.NaN), (5, float.PositiveInfinity), (0, float.NegativeInfinity) })
        {
            using var c = new Case(type, k, rows, pool: tokens, seed: 3);
            c.Activations[bad * k + 200] = value; // in the seventh block
            c.QuantizeActivations();
            using var y = new NativeArray(4L * rows * tokens);
            kernel.Run(k, c.Weights.Pointer, c.RowBytes, rows, c.Act.Pointer, c.ActRow, tokens, y.Floats, rows);
            for (int t = 0; t < tokens; t++)
            {
                for (int r = 0; r < rows; r++)
                {
                    float v = y.Floats[t * rows + r];
                    if (t == bad)
                    {
                        Assert.True(float.IsNaN(v), $"{type}: token {t} holds {value}, row {r} gave {v} instead of NaN");
                    }
                    else
                    {
                        Assert.True(float.IsFinite(v), $"{type}: token {t} is finite, row {r} gave {v}");
                        Assert.True(Math.Abs(v - c.Expected(r, t)) <= 2e-6 * c.MaxAbs, $"{type}: token {t} row {r}: {v} vs ggml {c.Expected(r, t)}");
                    }
                }
            }
        }
    }

    // One weight matrix (ggml-quantized) and a pool of activation rows quantized once by Ferrum (ggml's layout), which
    // both Ferrum's kernel and ggml's vec_dot read: the same bytes on both sides, so only the float summation order
    // differs. (ggml's AVX2 from_float for q8_0 rounds ties to even where its reference quantizer, which Ferrum
    // follows, rounds them away from zero; quantizing separately would test that difference, not the kernel.)
    private sealed class Case : IDisposable
    {
        private readonly GgmlType _type;
        private readonly int _k;
        private readonly int _rows;
        private readonly int _pool;
        private readonly NativeArray _xf;

        public Case(GgmlType type, int k, int rows, int pool, int seed)
        {
            _type = type;
            _k = k;
            _rows = rows;
            _pool = pool;
            var info = GgmlTypeInfo.Get(type);
            RowBytes = info.RowBytes(k);
            using var wf = NativeArray.FromFloats(TestData.Gaussian(k * rows, seed + 31 * (int)type, 0.5f));
            Weights = new NativeArray(RowBytes * rows);
            GgmlCpuOps.QuantizeRows((int)type, wf.Floats, Weights.Pointer, rows, k);
            Assert.Equal((GgmlType)GgmlCpuOps.VecDotType((int)type), info.ActivationType);
            ActRow = ActivationQuant.RowBytes(info.ActivationType, k);
            Activations = TestData.Gaussian(k * pool, seed + 1000 + (int)type);
            _xf = new NativeArray(4L * k * pool);
            Act = new NativeArray(ActRow * pool);
            QuantizeActivations();
        }

        public NativeArray Weights { get; }

        public NativeArray Act { get; }

        public long RowBytes { get; }

        public long ActRow { get; }

        public float[] Activations { get; }

        public double MaxAbs { get; private set; }

        private float[] Reference { get; set; } = [];

        public void QuantizeActivations()
        {
            Activations.AsSpan().CopyTo(new Span<float>(_xf.Pointer, Activations.Length));
            var vecDot = GgmlCpuOps.VecDot((int)_type);
            Reference = new float[_rows * _pool];
            MaxAbs = 0;
            for (int t = 0; t < _pool; t++)
            {
                ActivationQuant.Quantize(GgmlTypeInfo.Get(_type).ActivationType, _xf.Floats + t * _k, Act.Pointer + t * ActRow, _k);
                bool finite = Activations.AsSpan(t * _k, _k).ToArray().All(float.IsFinite);
                if (!finite)
                {
                    continue; // a non-finite row has no finite reference (its outputs must be NaN)
                }

                for (int r = 0; r < _rows; r++)
                {
                    float e;
                    vecDot(_k, &e, 0, Weights.Pointer + r * RowBytes, 0, Act.Pointer + t * ActRow, 0, 1);
                    Reference[t * _rows + r] = e;
                    MaxAbs = Math.Max(MaxAbs, Math.Abs(e));
                }
            }

            Assert.True(MaxAbs > 0.5, $"degenerate data: max |dot| {MaxAbs}");
        }

        public float Expected(int row, int token) => Reference[token * _rows + row];

        public void Check(CpuMatKernel kernel, int tokens, bool gathered)
        {
            // Gathered: a permutation of the pool taken backwards with a stride, the last token repeating the first.
            var index = new int[tokens];
            for (int t = 0; t < tokens; t++)
            {
                index[t] = gathered ? (_pool - 1 - (5 * t) % _pool + _pool) % _pool : t;
            }

            if (gathered && tokens > 2)
            {
                index[tokens - 1] = index[0];
            }

            using var y = new NativeArray(4L * _rows * tokens + 64);
            const long yStride = 13; // wider than the rows: the kernel must leave the gaps alone
            using var yw = new NativeArray(4L * yStride * tokens);
            new Span<float>(yw.Floats, (int)(yStride * tokens)).Fill(-12345f);
            fixed (int* ti = index)
            {
                kernel.Run(_k, Weights.Pointer, RowBytes, _rows, Act.Pointer, ActRow, gathered ? ti : null, tokens, yw.Floats, yStride);
            }

            for (int t = 0; t < tokens; t++)
            {
                for (int r = 0; r < (int)yStride; r++)
                {
                    float v = yw.Floats[t * yStride + r];
                    if (r >= _rows)
                    {
                        Assert.Equal(-12345f, v);
                        continue;
                    }

                    float e = Expected(r, index[t]);
                    Assert.True(Math.Abs(v - e) <= 2e-6 * MaxAbs, $"{kernel.Path} k={_k} tokens={tokens} gathered={gathered}: token {t} (row {index[t]}) row {r}: {v} vs ggml {e} (max |dot| {MaxAbs})");
                }
            }
        }

        public void Dispose()
        {
            Weights.Dispose();
            Act.Dispose();
            _xf.Dispose();
        }
    }
}
