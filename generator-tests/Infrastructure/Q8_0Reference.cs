namespace Ferrum.Generators.Tests.Infrastructure;

/// <summary>Test data for q8_0 kernels.</summary>
public static class Q8_0Reference
{
    /// <summary>
    /// Random q8_0 rows (ggml's layout: per 32 weights an f16 scale d and 32 int8 q; weight = d·q) and the exact
    /// mat-vec computed in double from the same numbers, independently of the generated code.
    /// </summary>
    public static (byte[] Weights, double[] Expected, float[] Input) Case(Random random, int rows, int length, int batch)
    {
        var blocks = length / 32;
        var weights = new byte[rows * blocks * 34];
        var w = new double[rows, length];
        for (var r = 0; r < rows; r++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var at = ((r * blocks) + b) * 34;
                var d = (Half)((random.NextDouble() * 0.02) - 0.01);
                BitConverter.TryWriteBytes(weights.AsSpan(at), d);
                for (var i = 0; i < 32; i++)
                {
                    var q = (sbyte)random.Next(-127, 128);
                    weights[at + 2 + i] = (byte)q;
                    w[r, (b * 32) + i] = (double)d * q;
                }
            }
        }

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
                    sum += w[r, c] * input[(t * length) + c];
                }

                expected[(t * rows) + r] = sum;
            }
        }

        return (weights, expected, input);
    }
}
