using System.Runtime.InteropServices;

namespace Ferrum.Sample.Commands;

/// <summary>The raw little-endian float32 [tokens × hidden] files that <c>ferrum moe</c> and <c>ferrum opencl</c> read and write.</summary>
public static class RawFloats
{
    /// <summary>Reads <paramref name="path"/>; its length must be a positive multiple of <paramref name="hidden"/> floats.</summary>
    public static float[] ReadTokens(string path, int hidden)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"input file '{path}' not found", path);
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0 || bytes.Length % (4 * hidden) != 0)
        {
            throw new ArgumentException($"input '{path}' has {bytes.Length} bytes, not a positive multiple of hidden ({hidden}) × 4 bytes");
        }

        return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }

    /// <summary>Writes <paramref name="values"/> to <paramref name="path"/>.</summary>
    public static void Write(string path, ReadOnlySpan<float> values) => File.WriteAllBytes(path, MemoryMarshal.AsBytes(values).ToArray());
}
