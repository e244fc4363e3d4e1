using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Runtime.Tests.Moe;

/// <summary>ExpertStack geometry: expert and row views, fused gate/up strides, and bounds checking.</summary>
public class ExpertStackTests
{
    // q8_0: 34 bytes per 32 elements, so a 64-element row is 68 bytes.
    private const int RowBytes = 68;

    [Fact]
    public void ExpertsAndRowsAreSlicesAtTheStrides()
    {
        // 3 experts × 4 rows of 64 q8_0 elements, each byte set to (expert * 16 + row).
        var data = new byte[3 * 4 * RowBytes];
        for (var e = 0; e < 3; e++)
        {
            for (var r = 0; r < 4; r++)
            {
                data.AsSpan(((e * 4) + r) * RowBytes, RowBytes).Fill((byte)((e * 16) + r));
            }
        }

        var stack = new ExpertStack<Q8_0>(WeightBytes.FromArray(data), "blk.0.ffn_down_exps.weight", 0, 3, 4, 64, RowBytes, 4 * RowBytes);
        Assert.Equal(GgmlType.Q8_0, stack.Format);
        Assert.Equal(RowBytes, stack.RowBytes);
        Assert.Equal(4 * RowBytes, stack.Expert(2).Length);
        Assert.Equal(32, stack.Expert(2)[0]);
        Assert.Equal(RowBytes, stack.Row(1, 3).Length);
        Assert.True(stack.Row(1, 3).ToArray().All(b => b == 19));
        Assert.Equal("blk.0.ffn_down_exps.weight: 3 experts × 4 rows × 64 q8_0", stack.ToString());
    }

    [Fact]
    public unsafe void FusedGateUpViewsInterleaveByExpertStride()
    {
        // Per expert: 2 gate rows then 2 up rows; gate bytes 1, up bytes 2.
        var data = new byte[2 * 4 * RowBytes];
        for (var e = 0; e < 2; e++)
        {
            data.AsSpan(e * 4 * RowBytes, 2 * RowBytes).Fill(1);
            data.AsSpan(((e * 4) + 2) * RowBytes, 2 * RowBytes).Fill(2);
        }

        var bytes = WeightBytes.FromArray(data);
        var gate = new ExpertStack<Q8_0>(bytes, "gate_up", 0, 2, 2, 64, RowBytes, 4 * RowBytes);
        var up = new ExpertStack<Q8_0>(bytes, "gate_up", 2 * RowBytes, 2, 2, 64, RowBytes, 4 * RowBytes);
        Assert.True(gate.Expert(1).ToArray().All(b => b == 1));
        Assert.True(up.Expert(1).ToArray().All(b => b == 2));
        Assert.Equal(2, *up.ExpertPointer(1));
        Assert.Equal((4 * RowBytes) + (2 * RowBytes), (long)(up.ExpertPointer(1) - gate.ExpertPointer(0)));
    }

    [Fact]
    public void OutOfRangeExpertOrRowThrows()
    {
        var stack = new ExpertStack<Q8_0>(WeightBytes.FromArray(new byte[2 * 3 * RowBytes]), "t", 0, 2, 3, 64, RowBytes, 3 * RowBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => stack.Expert(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => stack.Expert(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => stack.Row(0, 3));
    }

    [Fact]
    public void GeometryThatDoesNotFitTheBytesIsRejected()
    {
        var bytes = WeightBytes.FromArray(new byte[2 * 3 * RowBytes]);
        var tooMany = Assert.Throws<ArgumentException>(() => new ExpertStack<Q8_0>(bytes, "t", 0, 3, 3, 64, RowBytes, 3 * RowBytes));
        Assert.Contains("need", tooMany.Message, StringComparison.Ordinal);
        var notBlocks = Assert.Throws<ArgumentException>(() => new ExpertStack<Q4_K>(bytes, "t", 0, 1, 1, 100, 144, 144));
        Assert.Contains("block size 256", notBlocks.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new ExpertStack<Q8_0>(bytes, "t", 0, 2, 3, 64, RowBytes - 1, 3 * RowBytes));
        Assert.Throws<ArgumentException>(() => new ExpertStack<Q8_0>(bytes, "t", 1, 2, 3, 64, RowBytes, 3 * RowBytes));
    }

    [Fact]
    public unsafe void TensorsOver2GiBAreAddressedWithoutOneSpan()
    {
        // 160 experts of 768 rows × 2048 q8_0 elements (2176 bytes a row) with an expert stride of 32 MiB: a 5 GiB
        // tensor. No byte is read: only the addresses of the views are compared.
        const long stride = 32L << 20;
        var bytes = new FakeBytes(160 * stride);
        var stack = new ExpertStack<Q8_0>(bytes, "big", 0, 160, 768, 2048, 2176, stride);
        var last = stack.Expert(159);
        Assert.Equal((767 * 2176) + 2176, last.Length);
        fixed (byte* p = last)
        {
            Assert.Equal(159 * stride, p - bytes.Pointer);
        }

        fixed (byte* p = stack.Row(150, 3))
        {
            Assert.Equal((150 * stride) + (3 * 2176), p - bytes.Pointer);
        }

        Assert.Equal(159 * stride, stack.ExpertPointer(159) - bytes.Pointer);
        Assert.Throws<OverflowException>(() => bytes.Span.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => bytes.Slice((160 * stride) - 10, 11).Length);
    }

    [Fact]
    public void MarkerTypesNameTheirGgmlType()
    {
        Assert.Equal(GgmlType.Q4_K, TypeOf<Q4_K>());
        Assert.Equal(GgmlType.IQ4_NL, TypeOf<IQ4_NL>());
        Assert.Equal(GgmlType.MXFP4, TypeOf<MXFP4>());
        Assert.Equal(GgmlType.BF16, TypeOf<BF16>());

        // Every marker in the namespace names a distinct type known to the ggml table.
        var markers = typeof(IQuantFormat).Assembly.GetTypes().Where(t => t.IsValueType && typeof(IQuantFormat).IsAssignableFrom(t)).ToList();
        Assert.Equal(16, markers.Count);
        var types = markers.Select(t => (GgmlType)t.GetProperty("Type")!.GetValue(null)!).ToList();
        Assert.Equal(16, types.Distinct().Count());
        Assert.All(markers, t => Assert.Equal(t.Name, ((GgmlType)t.GetProperty("Type")!.GetValue(null)!).ToString()));
    }

    /// <summary>Claims a huge length over a small real buffer; only pointer arithmetic may touch it.</summary>
    private sealed unsafe class FakeBytes(long length) : WeightBytes
    {
        private readonly byte[] anchor = GC.AllocateArray<byte>(16, pinned: true);

        public override long Length => length;

        public override byte* Pointer => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref anchor[0]);
    }

    private static GgmlType TypeOf<T>()
        where T : IQuantFormat => T.Type;
}
