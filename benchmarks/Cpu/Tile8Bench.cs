using Ferrum.Backends.Cpu;

namespace Ferrum.Benchmarks.Cpu;

/// <summary>
/// The eight-token tile of the AVX2 block-32 kernels (<see cref="Avx2Block32Dot{TB}.Dot8"/>) as a driver like
/// MatDriver.Run4 (row tiles of 8, groups of eight tokens), so cpu-kernels can time ×8 against ×4 on the same data.
/// Only whole groups of eight are run (the benchmark's batch is 8).
/// </summary>
internal static unsafe class Tile8Bench
{
    /// <summary>The ×8 kernel of a block-32 format, or null for the others.</summary>
    public static CpuMatKernel? Kernel(Ferrum.Quantization.GgmlType type) => type switch
    {
        Ferrum.Quantization.GgmlType.Q4_0 => Make(type, &Run8<Avx2Block32Decoders.Q4_0>),
        Ferrum.Quantization.GgmlType.Q4_1 => Make(type, &Run8<Avx2Block32Decoders.Q4_1>),
        Ferrum.Quantization.GgmlType.Q5_0 => Make(type, &Run8<Avx2Block32Decoders.Q5_0>),
        Ferrum.Quantization.GgmlType.Q5_1 => Make(type, &Run8<Avx2Block32Decoders.Q5_1>),
        Ferrum.Quantization.GgmlType.Q8_0 => Make(type, &Run8<Avx2Block32Decoders.Q8_0>),
        Ferrum.Quantization.GgmlType.IQ4_NL => Make(type, &Run8<Avx2Block32Decoders.IQ4NL>),
        Ferrum.Quantization.GgmlType.MXFP4 => Make(type, &Run8<Avx2Block32Decoders.MXFP4>),
        _ => null,
    };

    private static CpuMatKernel Make(Ferrum.Quantization.GgmlType type, delegate*<int, byte*, long, int, byte*, long, int*, int, float*, long, void> fn) =>
        new(type, SimdLevel.Avx2, "avx2×8 tile (experiment)", fn);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void Run8<TB>(int k, byte* w, long rowBytes, int rows, byte* act, long actStride, int* tokenIndex, int tokens, float* y, long yStride)
        where TB : struct, IBlock32
    {
        int blocks = k / 32;
        byte** a = stackalloc byte*[8];
        float* r = stackalloc float[8];
        for (int r0 = 0; r0 < rows; r0 += MatDriver.RowTile)
        {
            int r1 = Math.Min(rows, r0 + MatDriver.RowTile);
            for (int t = 0; t + 8 <= tokens; t += 8)
            {
                for (int i = 0; i < 8; i++)
                {
                    a[i] = act + (tokenIndex == null ? t + i : tokenIndex[t + i]) * actStride;
                }

                for (int row = r0; row < r1; row++)
                {
                    Avx2Block32Dot<TB>.Dot8(w + row * rowBytes, a, blocks, r);
                    for (int i = 0; i < 8; i++)
                    {
                        y[(t + i) * yStride + row] = r[i];
                    }
                }
            }
        }
    }
}
