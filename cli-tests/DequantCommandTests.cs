using System.Runtime.InteropServices;
using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Cli.Tests;

/// <summary><c>ferrum dequant</c> writes exactly what ggml's to_float decodes from the same tensor bytes.</summary>
public sealed class DequantCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(GgmlType.Q4_K, new long[] { 512, 3, 2 })]
    [InlineData(GgmlType.Q6_K, new long[] { 256, 5 })]
    [InlineData(GgmlType.Q8_0, new long[] { 64, 7 })]
    [InlineData(GgmlType.MXFP4, new long[] { 96, 2 })]
    [InlineData(GgmlType.BF16, new long[] { 10, 3 })]
    public void MatchesGgmlToFloat(GgmlType type, long[] shape)
    {
        var elements = (int)shape.Aggregate(1L, (a, b) => a * b);
        var rng = new Random(1234);
        var values = new float[elements];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        var blocks = new byte[Quantizer.ByteCount(type, elements)];
        Quantizer.Quantize(type, values, blocks);
        var path = Path.Combine(_dir, "t.gguf");
        new GgufWriter().AddMetadata("general.architecture", "test").AddTensor("w", type, shape, blocks).WriteTo(path);

        var outPath = Path.Combine(_dir, "w.f32");
        var r = FerrumProcess.Run("dequant", path, "w", "--out", outPath);
        Assert.True(r.ExitCode == 0, r.Stderr);

        var actual = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outPath)).ToArray();
        var expected = new float[elements];
        if (type == GgmlType.BF16)
        {
            for (var i = 0; i < elements; i++)
            {
                expected[i] = BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(blocks, i * 2) << 16);
            }
        }
        else
        {
            GgmlQuant.ToFloat((int)type, blocks, expected);
        }

        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < elements; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(actual[i]));
        }
    }

    [Fact]
    public void MissingTensorIsOneLineError()
    {
        var path = Path.Combine(_dir, "t.gguf");
        new GgufWriter().AddMetadata("general.architecture", "test").AddTensor("w", GgmlType.F32, [4L], new byte[16]).WriteTo(path);
        var r = FerrumProcess.Run("dequant", path, "nope", "--out", Path.Combine(_dir, "o.f32"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("tensor 'nope' not found", r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void NotAGgufFileIsOneLineError()
    {
        var path = Path.Combine(_dir, "junk.gguf");
        File.WriteAllText(path, "this is not a gguf file at all");
        var r = FerrumProcess.Run("inspect", path);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("ferrum: error:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("magic", r.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }
}
