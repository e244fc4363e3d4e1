namespace Ferrum.GgmlReference;

/// <summary>Quantized test data and reference dequantization, both from ggml.</summary>
public static unsafe class GgmlReferenceData
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
        if (GgmlNative.QuantizeRequiresImatrix(type))
        {
            throw new ArgumentException($"ggml type {type} needs an importance matrix");
        }

        var rows = values.Length / rowLength;
        var bytes = new byte[checked((int)((long)GgmlNative.TypeSize(type) * values.Length / GgmlNative.BlockSize(type)))];
        fixed (float* src = values)
        fixed (byte* dst = bytes)
        {
            var written = GgmlNative.QuantizeChunk(type, src, dst, 0, rows, rowLength, null);
            if ((long)written != bytes.Length)
            {
                throw new InvalidOperationException($"ggml_quantize_chunk wrote {written} bytes, expected {bytes.Length}");
            }
        }

        return bytes;
    }

    /// <summary>ggml's to_float of <paramref name="count"/> elements.</summary>
    public static float[] ToFloat(int type, byte[] data, int count)
    {
        if (type == 0)
        {
            // ggml has no to_float for F32: its storage is the float itself.
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.AsSpan(0, count * 4)).ToArray();
        }

        var traits = GgmlNative.GetTypeTraits(type);
        if (traits->ToFloat == null)
        {
            throw new InvalidOperationException($"ggml type {type} has no to_float");
        }

        var y = new float[count];
        fixed (byte* x = data)
        fixed (float* yp = y)
        {
            traits->ToFloat(x, yp, count);
        }

        return y;
    }
}
