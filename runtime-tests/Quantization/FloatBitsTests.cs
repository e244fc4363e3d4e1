using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>fp16 and bf16 conversions agree bit for bit with ggml's converters.</summary>
public class FloatBitsTests
{
    [Fact]
    public void EveryHalfConvertsToTheSameSingleAsGgml()
    {
        for (var h = 0; h <= 0xFFFF; h++)
        {
            var expected = BitConverter.SingleToUInt32Bits(GgmlNative.Fp16ToFp32((ushort)h));
            var actual = BitConverter.SingleToUInt32Bits(FloatBits.HalfToSingle((ushort)h));
            Assert.True(expected == actual, $"fp16 0x{h:X4}: ggml 0x{expected:X8}, Ferrum 0x{actual:X8}");
        }
    }

    [Fact]
    public void SingleToHalfAndBFloat16MatchGgml()
    {
        var rng = new Random(1234);
        var special = new uint[]
        {
            0, 0x80000000, 0x00000001, 0x807FFFFF, 0x00400000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000,
            0x7F800001, 0xFFC12345, 0x7FFFFFFF, 0x477FE000, 0x477FF000, 0x477FEFFF, 0x38800000, 0x33800000, 0x33000000,
            0x3F808000, 0x3F818000, 0x3F80FFFF, 0x3F817FFF,
        };
        for (var i = 0; i < 200_000 + special.Length; i++)
        {
            var bits = i < special.Length ? special[i] : (uint)rng.NextInt64(0, 1L << 32);
            var f = BitConverter.UInt32BitsToSingle(bits);
            Assert.True(GgmlNative.Fp32ToBf16(f) == FloatBits.SingleToBFloat16(f), $"bf16 of 0x{bits:X8}");
            if (!float.IsNaN(f))
            {
                // ggml's NaN → fp16 keeps different payload bits than System.Half; activations are never NaN.
                Assert.True(GgmlNative.Fp32ToFp16(f) == FloatBits.SingleToHalf(f), $"fp16 of 0x{bits:X8}: ggml 0x{GgmlNative.Fp32ToFp16(f):X4}, Ferrum 0x{FloatBits.SingleToHalf(f):X4}");
            }
        }
    }

    [Fact]
    public void E8M0HalfScaleIsAPowerOfTwo()
    {
        for (var e = 0; e < 256; e++)
        {
            Assert.Equal(Math.ScaleB(1.0, e - 128), (double)FloatBits.E8M0ToSingleHalf((byte)e));
        }
    }
}
