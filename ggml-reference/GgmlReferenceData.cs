namespace Ferrum.GgmlReference;

/// <summary>Array-returning helpers over <see cref="GgmlQuant"/> for kernel tests and benchmarks: random weights, ggml-quantized and ggml-dequantized.</summary>
public static class GgmlReferenceData
{
    /// <summary>Deterministic floats in [-1, 1) with a few larger outliers, like real weights.</summary>
    public static float[] RandomFloats(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count];
        for (var i = 0; i < count; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1) * (rng.Next(50) == 0 ? 8f : 1f);
        }

        return x;
    }

    /// <summary>ggml_quantize_chunk of <paramref name="values"/> as rows of <paramref name="rowLength"/>.</summary>
    public static byte[] Quantize(int type, float[] values, int rowLength)
    {
        var bytes = new byte[checked((int)((long)GgmlNative.TypeSize(type) * values.Length / GgmlNative.BlockSize(type)))];
        GgmlQuant.QuantizeChunk(type, values, bytes, values.Length / rowLength, rowLength);
        return bytes;
    }

    /// <summary>ggml's to_float of <paramref name="count"/> elements; F32 (which has no to_float) is the bytes themselves.</summary>
    public static float[] ToFloat(int type, byte[] data, int count)
    {
        if (type == 0)
        {
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.AsSpan(0, count * 4)).ToArray();
        }

        var y = new float[count];
        GgmlQuant.ToFloat(type, data.AsSpan(0, (int)((long)GgmlNative.TypeSize(type) * count / GgmlNative.BlockSize(type))), y);
        return y;
    }
}
