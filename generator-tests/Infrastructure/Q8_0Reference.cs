using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Generators.Tests.Infrastructure;

/// <summary>Test data for q8_0 kernels, produced and checked by ggml itself.</summary>
public static class Q8_0Reference
{
    /// <summary>
    /// Random rows quantized to q8_0 by ggml (ggml_quantize_chunk), and the expected mat-vec: ggml's own
    /// dequantization (to_float) of those rows times the activations, summed in double.
    /// </summary>
    public static (byte[] Weights, double[] Expected, float[] Input) Case(Random random, int rows, int length, int batch)
    {
        const int type = (int)GgmlType.Q8_0;
        var source = new float[rows * length];
        for (var i = 0; i < source.Length; i++)
        {
            source[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var weights = new byte[rows * (length / 32) * 34];
        GgmlQuant.QuantizeChunk(type, source, weights, rows, length);
        var w = new float[source.Length];
        GgmlQuant.ToFloat(type, weights, w);

        var input = new float[batch * length];
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var expected = new double[batch * rows];
        for (var t = 0; t < batch; t++)
        {
            for (var r = 0; r < rows; r++)
            {
                double sum = 0;
                for (var c = 0; c < length; c++)
                {
                    sum += (double)w[(r * length) + c] * input[(t * length) + c];
                }

                expected[(t * rows) + r] = sum;
            }
        }

        return (weights, expected, input);
    }
}
