using System.Runtime.InteropServices;

namespace Ferrum.Backends.Metal;

/// <summary>Where Metal can run, and the one clear error everywhere else.</summary>
public static partial class MetalPlatform
{
    /// <summary>The message of the exception thrown off macOS.</summary>
    public const string OnlyOnMacOS = "Metal is available only on macOS";

    /// <summary>True on macOS (the only OS with Metal).</summary>
    public static bool IsSupported => OperatingSystem.IsMacOS();

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> ("Metal is available only on macOS ...") off macOS.</summary>
    public static void EnsureSupported()
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException($"{OnlyOnMacOS} (this machine runs {RuntimeInformation.OSDescription}); use --backend cpu or opencl");
        }
    }

    [LibraryImport("/System/Library/Frameworks/Metal.framework/Metal")]
    internal static partial nint MTLCreateSystemDefaultDevice();
}

/// <summary>Page rounding for zero-copy buffers: Metal wraps only page-aligned ranges of whole pages.</summary>
public static class MetalPages
{
    /// <summary>
    /// The page-aligned range covering [<paramref name="address"/>, <paramref name="address"/> + <paramref name="length"/>):
    /// its start, its length (a multiple of <paramref name="pageSize"/>) and the offset of <paramref name="address"/> in it.
    /// </summary>
    public static (nint Start, long Length, long Offset) Cover(nint address, long length, long pageSize)
    {
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0)
        {
            throw new ArgumentException($"page size {pageSize} is not a power of two", nameof(pageSize));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var a = (long)address;
        var start = a & ~(pageSize - 1);
        var end = checked(a + length + pageSize - 1) & ~(pageSize - 1);
        return ((nint)start, end - start, a - start);
    }
}
