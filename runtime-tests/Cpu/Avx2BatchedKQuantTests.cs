using Ferrum.Backends.Cpu;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Cpu;

/// <summary>
/// The AVX2 kernels of the six Q8_K-activation formats (four-token Dot4, two-token Dot2, single-token Dot) against ggml's
/// own vec_dot on the same bytes, at every token count around the groups of four, with and without a token index list;
/// all six give ggml's bits (its float steps, Avx2GgmlSums.cs), whatever the batch size and position.
/// </summary>
public sealed unsafe class Avx2BatchedKQuantTests
{
    private static readonly GgmlType[] Formats = [GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ4_XS];

    // 2, 6, 10: the two-token kernel (Dot2) alone and after groups of four; 3, 7: a leftover three.
    private static readonly int[] TokenCounts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    public static TheoryData<GgmlType, int> Cases()
    {
        var data = new TheoryData<GgmlType, int>();
        foreach (var t in Formats)
        {
            foreach (int k in new[] { 256, 768, 2048 })
            {
                data.Add(t, k);
            }
        }

        return data;
    }

    public static TheoryData<GgmlType> Types()
    {
        var data = new TheoryData<GgmlType>();
        foreach (var t in Formats)
        {
            data.Add(t);
        }

        return data;
    }

    /// <summary>
    /// ggml's AVX2 vec_dot bit for bit (the same integer lanes, FMAs, mins accumulators and horizontal sums; Ferrum's
    /// Q8_K activations are ggml's bytes) at every batch size and position, so that a prompt evaluated as a batch gives
    /// the logits llama.cpp gives evaluating it token by token.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Avx2_batched_kernel_gives_ggml_vec_dots_bits(GgmlType type, int k)
    {
        var kernel = Avx2Kernel(type);
        using var m = new Problem(type, k, rows: 12, activations: 11);
        foreach (int tokens in TokenCounts)
        {
            m.Check(kernel, tokens, null);
            var index = new int[tokens];
            for (int t = 0; t < tokens; t++)
            {
                index[t] = (7 * t + 3) % m.Activations; // out of order, none consecutive
            }

            m.Check(kernel, tokens, index);
        }

        // A prefill-sized batch (many groups of four, a tail of two); the activations repeat.
        m.Check(kernel, 70, [.. Enumerable.Range(0, 70).Select(t => (3 * t + 1) % m.Activations)]);
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Specialized_kernel_on_avx2_is_the_batched_one_and_gives_ggmls_bits(GgmlType type)
    {
        Assert.True(CpuSimd.Supported >= SimdLevel.Avx2, "this test needs an AVX2 CPU");
        var kernel = CpuKernels.Specialize<K768>(type);
        Assert.NotNull(kernel);
        Assert.Contains("×4 specialized", kernel.Path);
        using var m = new Problem(type, 768, rows: 12, activations: 11);
        foreach (int tokens in TokenCounts)
        {
            m.Check(kernel, tokens, null);
            m.Check(kernel, tokens, [.. Enumerable.Range(0, tokens).Select(t => (5 * t + 1) % m.Activations)]);
        }
    }

    /// <summary>
    /// A token's result must not depend on which other tokens share its expert (a non-finite token is re-routed, and
    /// the others must stay bit for bit what they were): Dot, Dot2 and the (padded) Dot4 give the same bits.
    /// </summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void A_tokens_result_has_the_same_bits_at_every_batch_size(GgmlType type)
    {
        var kernel = Avx2Kernel(type);
        using var m = new Problem(type, 768, rows: 12, activations: 11);
        var single = m.Run(kernel, 1, [0]);
        foreach (int tokens in new[] { 2, 3, 4, 5, 6, 7 })
        {
            for (int pos = 0; pos < tokens; pos++)
            {
                // Activation 0 at every position of the batch, the others distinct.
                int[] index = [.. Enumerable.Range(0, tokens).Select(t => t == pos ? 0 : 1 + t)];
                var y = m.Run(kernel, tokens, index);
                for (int r = 0; r < 12; r++)
                {
                    Assert.True(BitConverter.SingleToInt32Bits(single[r]) == BitConverter.SingleToInt32Bits(y[pos * 12 + r]),
                        $"{type} tokens={tokens} position {pos} row {r}: {y[pos * 12 + r]:R} in the batch, {single[r]:R} alone");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void Non_finite_activation_makes_only_its_token_NaN(GgmlType type)
    {
        var kernel = Avx2Kernel(type);
        using var m = new Problem(type, 768, rows: 12, activations: 9, poison: 5);
        foreach (int tokens in new[] { 4, 6, 7, 9 })
        {
            // Token 5 (in the second group of four, the leftover pair or three, or the single-token tail) holds a
            // NaN; ggml gives NaN there too.
            m.Check(kernel, tokens, null);
            m.Check(kernel, tokens, [.. Enumerable.Range(0, tokens).Select(t => (t + 5) % m.Activations)]);
        }
    }

    private static CpuMatKernel Avx2Kernel(GgmlType type)
    {
        Assert.True(CpuSimd.Supported >= SimdLevel.Avx2, "this test needs an AVX2 CPU");
        var kernel = CpuKernels.Generic(type, SimdLevel.Avx2);
        Assert.Equal(SimdLevel.Avx2, kernel.Level);
        Assert.Contains("×4", kernel.Path);
        return kernel;
    }

    private struct K768 : IFixedRowLength
    {
        public static int Value => 768;
    }

    /// <summary>ggml-quantized weights and activations, and ggml's vec_dot for every (activation, row).</summary>
    private sealed class Problem : IDisposable
    {
        private readonly GgmlType _type;
        private readonly int _k, _rows;
        private readonly long _rowBytes, _actRow;
        private readonly NativeArray _w, _act;
        private readonly float[] _expected;
        private readonly double _maxAbs;

        public Problem(GgmlType type, int k, int rows, int activations, int poison = -1)
        {
            _type = type;
            _k = k;
            _rows = rows;
            Activations = activations;
            var info = GgmlTypeInfo.Get(type);
            _rowBytes = info.RowBytes(k);
            using var wf = NativeArray.FromFloats(TestData.Gaussian(k * rows, 11 + (int)type + k, 0.5f));
            _w = new NativeArray(_rowBytes * rows);
            GgmlCpuOps.QuantizeRows((int)type, wf.Floats, _w.Pointer, rows, k);

            int gAct = GgmlCpuOps.VecDotType((int)type);
            Assert.Equal((int)GgmlType.Q8_K, gAct);
            _actRow = ActivationQuant.RowBytes(GgmlType.Q8_K, k);
            Assert.Equal(GgmlTypeInfo.Get(GgmlType.Q8_K).RowBytes(k), _actRow);
            var x = TestData.Gaussian(k * activations, 200 + (int)type + k);
            using var xf = NativeArray.FromFloats(x);
            _act = new NativeArray(_actRow * activations);
            using var gact = new NativeArray(_actRow * activations);
            for (int t = 0; t < activations; t++)
            {
                GgmlCpuOps.FromFloat(gAct, xf.Floats + t * k, gact.Pointer + t * _actRow, k);
            }

            if (poison >= 0)
            {
                // ggml's quantizer skips a NaN when looking for the block maximum; poison its scale as Ferrum does.
                xf.Floats[poison * k + 300] = float.NaN;
                *(float*)(gact.Pointer + poison * _actRow + ActivationQuant.Q8KBlockBytes) = float.NaN; // the second Q8_K block's d
            }

            for (int t = 0; t < activations; t++)
            {
                ActivationQuant.Quantize(GgmlType.Q8_K, xf.Floats + t * k, _act.Pointer + t * _actRow, k);
            }

            var vecDot = GgmlCpuOps.VecDot((int)type);
            _expected = new float[activations * rows];
            for (int t = 0; t < activations; t++)
            {
                for (int r = 0; r < rows; r++)
                {
                    float e;
                    vecDot(k, &e, 0, _w.Pointer + r * _rowBytes, 0, gact.Pointer + t * _actRow, 0, 1);
                    _expected[t * rows + r] = e;
                    if (float.IsFinite(e))
                    {
                        _maxAbs = Math.Max(_maxAbs, Math.Abs(e));
                    }
                }
            }

            Assert.True(_maxAbs > 1, $"degenerate data: max |dot| {_maxAbs}");
        }

        public int Activations { get; }

        public float[] Run(CpuMatKernel kernel, int tokens, int[]? index)
        {
            var y = new float[tokens * _rows];
            fixed (float* py = y)
            fixed (int* pi = index)
            {
                kernel.Run(_k, _w.Pointer, _rowBytes, _rows, _act.Pointer, _actRow, pi, tokens, py, _rows);
            }

            return y;
        }

        public void Check(CpuMatKernel kernel, int tokens, int[]? index)
        {
            var y = Run(kernel, tokens, index);

            for (int t = 0; t < tokens; t++)
            {
                int src = index?[t] ?? t;
                for (int r = 0; r < _rows; r++)
                {
                    float e = _expected[src * _rows + r], got = y[t * _rows + r];
                    string where = $"{_type} k={_k} tokens={tokens} index={(index == null ? "none" : string.Join(',', index))} token {t} (activation {src}) row {r} [{kernel.Path}]";
                    if (float.IsNaN(e))
                    {
                        Assert.True(float.IsNaN(got), $"{where}: expected NaN, got {got}");
                        continue;
                    }

                    Assert.True(BitConverter.SingleToInt32Bits(got) == BitConverter.SingleToInt32Bits(e), $"{where}: {got:R} vs ggml {e:R}, not the same bits");
                }
            }
        }

        public void Dispose()
        {
            _w.Dispose();
            _act.Dispose();
        }
    }
}
