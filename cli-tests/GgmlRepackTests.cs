using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Cli.Tests;

/// <summary>
/// The CPU_REPACK placement behind <c>ferrum bench</c>'s repacked ggml path: the buffer type is found, the CPU device's
/// answers match llama.cpp's table of repacked layouts, a weight without a layout never goes into the buffer, and the
/// repacked graph computes what the plain one does.
/// </summary>
public sealed unsafe class GgmlRepackTests
{
    // From llama.cpp's ggml-cpu/repack.cpp (ggml_repack_get_optimal_repack_type) for x86 with AVX2: q4_0, q4_K, iq4_nl
    // and mxfp4 get an 8x8 layout when the row count is a multiple of 8; q5_K, q6_K and q8_0 have ARM layouts only.
    // (q2_K is left out: its layout depends on whether the loaded ggml build has AVX-512.)
    public static TheoryData<GgmlType, long, bool> Layouts => new()
    {
        { GgmlType.Q4_0, 16, true },
        { GgmlType.Q4_K, 16, true },
        { GgmlType.IQ4_NL, 16, true },
        { GgmlType.MXFP4, 16, true },
        { GgmlType.Q4_K, 12, false }, // rows not a multiple of 8
        { GgmlType.Q5_K, 16, false },
        { GgmlType.Q6_K, 16, false },
        { GgmlType.Q8_0, 16, false },
        { GgmlType.F32, 16, false },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void The_CPU_device_accepts_exactly_the_weights_that_have_a_layout(GgmlType type, long rows, bool expected)
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml natives are required for this test");
        Assert.True(Avx2.IsSupported, "the expected layouts are those of an x86 CPU with AVX2");
        Assert.True(GgmlRepack.IsAvailable, GgmlRepack.Unavailable);
        Assert.Equal(expected, GgmlRepack.Supports((int)type, 256, rows, stack: true));
    }

    [Fact]
    public void Invalid_weights_are_refused_before_ggml_is_called()
    {
        Assert.Contains("unknown ggml type 77", Assert.Throws<ArgumentException>(() => GgmlRepack.Supports(77, 256, 8, stack: true)).Message);
        Assert.Contains("not a multiple of the q4_K block", Assert.Throws<ArgumentException>(() => GgmlRepack.Supports((int)GgmlType.Q4_K, 100, 8, stack: true)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => GgmlRepack.Supports((int)GgmlType.Q4_K, 256, 0, stack: true));
    }

    [Theory]
    [InlineData(16, new[] { "gate", "up" })] // q4_K stacks of 16 rows have a layout; the f32 router and down do not
    [InlineData(12, new string[0])]          // 12 rows: no layout, so nothing may go into the repack buffer
    public void Repacked_weights_compute_what_the_plain_ones_do(int ffn, string[] repacked)
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml natives are required for this test");
        Assert.True(Avx2.IsSupported, "the expected layouts are those of an x86 CPU with AVX2");
        const int H = 256, E = 4, K = 2, T = 5;
        var spec = new GgmlMoeSpec(H, ffn, E, K, true, (int)GgmlType.F32, (int)GgmlType.Q4_K, (int)GgmlType.Q4_K, (int)GgmlType.F32);
        var rng = new Random(7);
        float[] Rand(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.2f)];
        byte[] Q4K(float[] v)
        {
            var b = new byte[Quantizer.ByteCount(GgmlType.Q4_K, v.Length)];
            Quantizer.Quantize(GgmlType.Q4_K, v, b);
            return b;
        }

        // 32-byte aligned copies, as in a GGUF mapping.
        var router = Aligned(MemoryMarshal.AsBytes(Rand(H * E).AsSpan()));
        var gate = Aligned(Q4K(Rand(H * ffn * E)));
        var up = Aligned(Q4K(Rand(H * ffn * E)));
        var down = Aligned(MemoryMarshal.AsBytes(Rand(ffn * H * E).AsSpan()));
        var x = Rand(T * H);
        try
        {
            using var backend = new GgmlCpuBackend(2);
            using var weights = new GgmlMoeWeights(spec, router, gate, up, down, repack: true);
            Assert.Equal(repacked, weights.Repacked);
            using var plain = new GgmlMoeBlock(spec, T, router, gate, up, down);
            using var packed = new GgmlMoeBlock(weights, T);
            Assert.Throws<InvalidOperationException>(() => packed.SetWeights(router, gate, up, down));
            fixed (float* px = x)
            {
                plain.Forward(backend, px);
                packed.Forward(backend, px);
            }

            double num = 0, den = 0;
            for (int i = 0; i < T * H; i++)
            {
                double d = (double)packed.Output[i] - plain.Output[i];
                num += d * d;
                den += (double)plain.Output[i] * plain.Output[i];
            }

            Assert.True(den > 0);
            Assert.InRange(num / den, 0, 1e-10); // same integer math, only the summation order differs
        }
        finally
        {
            NativeMemory.AlignedFree(router);
            NativeMemory.AlignedFree(gate);
            NativeMemory.AlignedFree(up);
            NativeMemory.AlignedFree(down);
        }
    }

    private static void* Aligned(ReadOnlySpan<byte> data)
    {
        var p = NativeMemory.AlignedAlloc((nuint)data.Length, 64);
        data.CopyTo(new Span<byte>(p, data.Length));
        return p;
    }
}
