using System.Runtime.InteropServices;
using Ferrum.GgmlReference;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;
using Xunit.Abstractions;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>
/// Quantizer quality against ggml_quantize_chunk (no importance matrix): RMSE within 10% of ggml's on Gaussian and
/// Student-t(3) data; ggml decodes Ferrum's blocks to exactly what Ferrum decodes; output is deterministic.
/// </summary>
public class QuantizerTests(ITestOutputHelper output)
{
    private const int PerRow = 2048;
    private const int Rows = 32;

    public static TheoryData<GgmlType> Types() => QuantTestData.WeightTypeData();

    [Theory]
    [MemberData(nameof(Types))]
    public void RmseWithinTenPercentOfGgml(GgmlType type)
    {
        foreach (var (name, data) in new[]
        {
            ("gaussian", QuantTestData.Gaussian(PerRow * Rows, 1000 + (int)type)),
            ("student-t3", QuantTestData.StudentT3(PerRow * Rows, 2000 + (int)type)),
        })
        {
            var (ours, ggml) = MeasureRmse(type, data);
            output.WriteLine($"| {type} | {name} | {ggml:E3} | {ours:E3} | {(ggml > 0 ? (ours / ggml).ToString("F3") : "exact")} |");
            Assert.True(ours <= ggml * 1.10 || ours == 0, $"{type}/{name}: Ferrum RMSE {ours:E4} vs ggml {ggml:E4} ({ours / ggml:F3}x)");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void GgmlDecodesFerrumBlocksIdentically(GgmlType type)
    {
        var x = QuantTestData.StudentT3(PerRow * 4, 3000 + (int)type);
        var blocks = new byte[Quantizer.ByteCount(type, x.Length)];
        Quantizer.Quantize(type, x, blocks);
        var again = new byte[blocks.Length];
        Quantizer.Quantize(type, x, again);
        Assert.Equal(blocks, again);
        var ours = new float[x.Length];
        Dequantizer.Dequantize(type, blocks, ours);
        var theirs = new float[x.Length];
        if (type == GgmlType.F32)
        {
            MemoryMarshal.Cast<byte, float>(blocks).CopyTo(theirs);
        }
        else
        {
            GgmlQuant.ToFloat((int)type, blocks, theirs);
        }

        QuantTestData.AssertBitEqual(theirs, ours, type.ToString());
    }

    [Fact]
    public void F16AndBF16QuantizeLikeGgml()
    {
        var x = QuantTestData.StudentT3(4096, 77);
        foreach (var type in new[] { GgmlType.F16, GgmlType.BF16 })
        {
            var expected = new byte[Quantizer.ByteCount(type, x.Length)];
            var actual = new byte[expected.Length];
            GgmlQuant.QuantizeChunk((int)type, x, expected, 1, x.Length);
            Quantizer.Quantize(type, x, actual);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void ZeroAndConstantBlocksRoundTrip()
    {
        foreach (var type in QuantTestData.WeightTypes)
        {
            var layout = BlockLayout.Get(type);
            var n = Math.Max(256, layout.BlockSize);
            foreach (var value in new[] { 0f, 0.5f, -2f })
            {
                var x = Enumerable.Repeat(value, n).ToArray();
                var blocks = new byte[Quantizer.ByteCount(type, n)];
                Quantizer.Quantize(type, x, blocks);
                var back = new float[n];
                Dequantizer.Dequantize(type, blocks, back);
                var tolerance = value == 0 ? 0 : Math.Abs(value) * 0.02;
                Assert.All(back, v => Assert.InRange(v, value - tolerance, value + tolerance));
            }
        }
    }

    [Fact]
    public void RejectsBadInput()
    {
        var ex = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q4_0, new float[33], new byte[36]));
        Assert.Contains("multiple of the block size 32", ex.Message);
        var x = new float[32];
        x[7] = float.NaN;
        ex = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q4_0, x, new byte[18]));
        Assert.Contains("src[7]", ex.Message);
        Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q8_K, new float[256], new byte[292]));
        var huge = new float[64];
        huge[40] = 1e7f;
        ex = Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q4_0, huge, new byte[36]));
        Assert.Contains("block 1", ex.Message);
        Assert.Throws<ArgumentException>(() => Quantizer.Quantize(GgmlType.Q6_K, new float[256], new byte[209]));
    }

    private static (double Ours, double Ggml) MeasureRmse(GgmlType type, float[] x)
    {
        var bytes = Quantizer.ByteCount(type, x.Length);
        var ours = new byte[bytes];
        var theirs = new byte[bytes];
        Quantizer.Quantize(type, x, ours);
        GgmlQuant.QuantizeChunk((int)type, x, theirs, Rows, PerRow);
        var yo = new float[x.Length];
        var yt = new float[x.Length];
        Dequantizer.Dequantize(type, ours, yo);
        Dequantizer.Dequantize(type, theirs, yt);
        return (QuantTestData.Rmse(x, yo), QuantTestData.Rmse(x, yt));
    }
}
