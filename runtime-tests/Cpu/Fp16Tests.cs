using Ferrum.Backends.Cpu;

namespace Ferrum.Runtime.Tests.Cpu;

/// <summary>The scalar half → float conversion the kernels use for block scales, against .NET's own (exact) Half.</summary>
public sealed class Fp16Tests
{
    [Fact]
    public unsafe void Every_half_converts_bit_for_bit_like_System_Half()
    {
        for (int h = 0; h <= ushort.MaxValue; h++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            float table = Fp16.HalfTable[h];
            float arithmetic = Fp16.ToFloat((ushort)h);
            if (float.IsNaN(expected))
            {
                // NaN keeps its sign and payload bits moved into place.
                Assert.True(float.IsNaN(arithmetic) && float.IsNaN(table), $"half 0x{h:X4}");
                Assert.Equal(BitConverter.SingleToUInt32Bits(arithmetic), BitConverter.SingleToUInt32Bits(table));
                continue;
            }

            Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(arithmetic), $"half 0x{h:X4}: {arithmetic} instead of {expected}");
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(table));
        }
    }
}
