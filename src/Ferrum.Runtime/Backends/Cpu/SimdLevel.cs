using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ferrum.Backends.Cpu;

/// <summary>The instruction-set path a CPU kernel runs.</summary>
public enum SimdLevel
{
    /// <summary>Portable scalar C#.</summary>
    Scalar = 0,

    /// <summary>128-bit vectors (Arm64 AdvSimd or SSE); the kernels use it through Vector128 where they have such a path.</summary>
    Vector128 = 1,

    /// <summary>x86 AVX2 (256-bit integer multiply-add: vpmaddubsw / vpmaddwd).</summary>
    Avx2 = 2,

    /// <summary>x86 AVX-512 F+BW (512-bit vpmaddubsw / vpmaddwd / vpermw).</summary>
    Avx512 = 3,
}

/// <summary>Chooses the best SIMD path the machine supports; tests may lower it to exercise the fallbacks.</summary>
public static class CpuSimd
{
    private static SimdLevel _level = Detect();

    /// <summary>The best level this machine supports.</summary>
    public static SimdLevel Supported { get; } = Detect();

    /// <summary>The level the kernels use now (defaults to <see cref="Supported"/>).</summary>
    public static SimdLevel Level => _level;

    /// <summary>Restricts the kernels to <paramref name="level"/> or lower (clamped to what the machine supports).</summary>
    public static void Limit(SimdLevel level) => _level = level > Supported ? Supported : level;

    /// <summary>Restores the best supported level.</summary>
    public static void Reset() => _level = Supported;

    private static SimdLevel Detect()
    {
        if (Avx512BW.IsSupported && Avx512F.IsSupported && Vector512.IsHardwareAccelerated)
        {
            return SimdLevel.Avx512;
        }

        if (Avx2.IsSupported && Fma.IsSupported)
        {
            return SimdLevel.Avx2;
        }

        return Vector128.IsHardwareAccelerated ? SimdLevel.Vector128 : SimdLevel.Scalar;
    }
}
