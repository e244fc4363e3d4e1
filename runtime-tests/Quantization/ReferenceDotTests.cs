using Ferrum.GgmlReference;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;
using Xunit.Abstractions;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>
/// The scalar reference dot product agrees with ggml-cpu's vec_dot (SIMD build, different summation order) to float
/// rounding, and with the dot product of the dequantized operands.
/// </summary>
public class ReferenceDotTests(ITestOutputHelper output)
{
    private const int Elements = 4096;
    private const int Rows = 24;

    public static TheoryData<GgmlType> Types() => QuantTestData.WeightTypeData();

    [Theory]
    [MemberData(nameof(Types))]
    public void MatchesGgmlVecDot(GgmlType type)
    {
        var layout = BlockLayout.Get(type);
        Assert.Equal((int)layout.ActivationType, GgmlQuant.VecDotType((int)type));
        var w = QuantTestData.StudentT3(Elements * Rows, 100 + (int)type);
        var x = QuantTestData.Gaussian(Elements, 200 + (int)type);
        var rowBytes = Quantizer.ByteCount(type, Elements);
        var weights = new byte[rowBytes * Rows];
        GgmlQuant.QuantizeChunk((int)type, w, weights, Rows, Elements);
        var act = new byte[ActivationQuantizer.ByteCount(layout.ActivationType, Elements)];
        ActivationQuantizer.Quantize(layout.ActivationType, x, act);

        var wf = new float[Elements];
        var af = new float[Elements];
        DequantizeActivations(layout.ActivationType, act, af);
        double maxRel = 0, maxRelExact = 0;
        for (var r = 0; r < Rows; r++)
        {
            var row = weights.AsSpan(r * rowBytes, rowBytes);
            var ours = ReferenceDot.Dot(type, row, act, Elements);
            var ggml = GgmlQuant.VecDot((int)type, row, act, Elements);
            Dequantizer.Dequantize(type, row, wf);
            double exact = 0, magnitude = 0;
            for (var i = 0; i < Elements; i++)
            {
                exact += (double)wf[i] * af[i];
                magnitude += Math.Abs((double)wf[i] * af[i]);
            }

            if (layout.ActivationType == GgmlType.Q8_1)
            {
                // Q8_1 carries s = fp16(d·Σq), and ggml's dot uses it for the offset term m·Σx: take the exact dot
                // with that stored s, i.e. Σ (w - m)·x + m·s per block.
                exact = 0;
                for (var b = 0; b < Elements / 32; b++)
                {
                    var m = FloatBits.HalfToSingle(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(row.Slice(b * layout.TypeSize + 2)));
                    var sy = FloatBits.HalfToSingle(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(act.AsSpan(b * 36 + 2)));
                    for (var i = 32 * b; i < 32 * b + 32; i++)
                    {
                        exact += ((double)wf[i] - m) * af[i];
                    }

                    exact += (double)m * sy;
                }
            }

            Assert.True(magnitude > 0);
            var rel = Math.Abs(ours - ggml) / magnitude;
            var relExact = Math.Abs(ours - exact) / magnitude;
            maxRel = Math.Max(maxRel, rel);
            maxRelExact = Math.Max(maxRelExact, relExact);
            Assert.True(rel <= 1e-5, $"{type} row {r}: Ferrum {ours:R}, ggml {ggml:R}, error {rel:E2} of Σ|w·x| = {magnitude:R}");
            Assert.True(relExact <= 1e-5, $"{type} row {r}: Ferrum {ours:R}, exact {exact:R}, error {relExact:E2}");
        }

        output.WriteLine($"{type}: max |Ferrum - ggml vec_dot| / Σ|w·x| = {maxRel:E2}; vs exact dot of dequantized operands {maxRelExact:E2}");
    }

    [Fact]
    public void RejectsMismatchedActivations()
    {
        var ex = Assert.Throws<ArgumentException>(() => ReferenceDot.Dot(GgmlType.Q4_K, new byte[144], new byte[34 * 8], 256));
        Assert.Contains("Q8_K", ex.Message);
        Assert.Throws<ArgumentException>(() => ReferenceDot.Dot(GgmlType.Q4_0, new byte[18], new byte[34], 64));
    }

    // Activation blocks decode as d*q (ggml's dequantize_row_q8_K; Q8_1 has no to_float in ggml, same formula).
    private static void DequantizeActivations(GgmlType type, ReadOnlySpan<byte> act, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.Q8_K:
                for (var i = 0; i < dst.Length; i++)
                {
                    var b = act.Slice(i / 256 * 292);
                    dst[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(b) * (sbyte)b[4 + i % 256];
                }

                break;
            case GgmlType.Q8_0:
            case GgmlType.Q8_1:
                var size = type == GgmlType.Q8_0 ? 34 : 36;
                for (var i = 0; i < dst.Length; i++)
                {
                    var b = act.Slice(i / 32 * size);
                    dst[i] = FloatBits.HalfToSingle(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(b)) * (sbyte)b[size - 32 + i % 32];
                }

                break;
            default:
                Dequantizer.Dequantize(type, act, dst);
                break;
        }
    }
}
