using Ferrum.Gguf;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>One hand-built file per failure class: each is refused with a GgufFormatException naming the problem and the byte offset.</summary>
public class GgufCorruptionTests
{
    private const uint F32 = 0;
    private const uint Q4K = 12;

    private static GgufFormatException Reject(byte[] bytes, long expectedOffset, string expectedText)
    {
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(bytes, "bad.gguf").Dispose());
        Assert.Contains(expectedText, e.Message);
        Assert.Equal(expectedOffset, e.ByteOffset);
        Assert.StartsWith($"bad.gguf: invalid GGUF at byte {expectedOffset}: ", e.Message);
        return e;
    }

    /// <summary>A file with one f32 tensor info whose fields the caller chooses, followed by <paramref name="dataBytes"/> of data.</summary>
    private static (byte[] Bytes, long NdimsAt, long TypeAt, long OffsetAt) OneTensor(ulong[] ne, uint type = F32, ulong offset = 0, int dataBytes = 64, string name = "w")
    {
        var g = new RawGguf().Header(1, 0).Str(name);
        var ndimsAt = g.Position;
        g.U32((uint)ne.Length);
        foreach (var n in ne)
        {
            g.U64(n);
        }

        var typeAt = g.Position;
        g.U32(type);
        var offsetAt = g.Position;
        g.U64(offset).PadTo(32).Zeros(dataBytes);
        return (g.ToArray(), ndimsAt, typeAt, offsetAt);
    }

    [Fact]
    public void BadMagic() => Reject(new RawGguf().U32(0x58554747).U32(3).U64(0).U64(0).ToArray(), 0, "bad magic \"GGUX\"");

    [Theory]
    [InlineData(0u, "unsupported GGUF version 0")]
    [InlineData(4u, "unsupported GGUF version 4")]
    [InlineData(1u, "GGUF version 1 is not supported")]
    [InlineData(0x0300_0000u, "byte-swapped (big-endian)")]
    public void UnsupportedVersion(uint version, string text) => Reject(new RawGguf().Header(0, 0, version).ToArray(), 4, text);

    [Fact]
    public void EmptyAndTooShortFiles()
    {
        var path = GgufSamples.TempPath("empty");
        File.WriteAllBytes(path, []);
        try
        {
            var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path).Dispose());
            Assert.Contains("empty (0 bytes)", e.Message);
            Assert.Contains(path, e.Message);
        }
        finally
        {
            File.Delete(path);
        }

        Reject([0x47, 0x47], 0, "too short for the GGUF magic");
        Reject(new RawGguf().U32(0x46554747).U32(3).U32(0).ToArray(), 8, "tensor count needs 8 bytes");
    }

    [Fact]
    public void MetadataCountThatCannotFit() =>
        Reject(new RawGguf().Header(0, 1_000_000).KvU32("a", 1).ToArray(), 16, "metadata count 1000000 cannot fit");

    [Fact]
    public void TensorCountThatCannotFit()
    {
        Reject(new RawGguf().Header(1_000_000, 0).Zeros(100).ToArray(), 8, "tensor count 1000000 cannot fit in the 100 bytes left");
        Reject(new RawGguf().Header(ulong.MaxValue / 2, 0).Zeros(100).ToArray(), 8, "tensor count 9223372036854775807 is more than 2147483647 tensors");
    }

    [Fact]
    public void StringLengthPastTheEnd()
    {
        Reject(new RawGguf().Header(0, 1).U64(1000).Raw("abc"u8).Zeros(20).ToArray(), 24, "has length 1000 but only");
        Reject(new RawGguf().Header(0, 1).U64(ulong.MaxValue).Zeros(20).ToArray(), 24, "more than the 1073741824 bytes");
        var g = new RawGguf().Header(0, 1).Str("k").U32(8);
        var at = g.Position;
        Reject(g.U64(99).Raw("short"u8).ToArray(), at, "metadata key 'k' has length 99");
    }

    [Fact]
    public void ArrayLengthPastTheEnd()
    {
        var g = new RawGguf().Header(0, 1).Str("arr").U32(9).U32(4);
        var at = g.Position;
        Reject(g.U64(1000).U32(1).U32(2).ToArray(), at, "1000 u32 elements need at least 4000 bytes");

        g = new RawGguf().Header(0, 1).Str("strs").U32(9).U32(8);
        at = g.Position;
        Reject(g.U64(1UL << 40).Str("x").ToArray(), at, "more than the 1073741824 ggml allows");

        g = new RawGguf().Header(0, 1).Str("strs").U32(9).U32(8).U64(3).Str("x");
        at = g.Position;
        Reject(g.U64(500).Raw("yy"u8).Zeros(30).ToArray(), at, "metadata key 'strs'[1] has length 500 but only 32 bytes are left");
    }

    [Fact]
    public void UnknownValueTypes()
    {
        var g = new RawGguf().Header(0, 1).Str("k");
        var at = g.Position;
        Reject(g.U32(13).U32(0).ToArray(), at, "metadata key 'k' has unknown value type 13");

        g = new RawGguf().Header(0, 1).Str("k").U32(9);
        at = g.Position;
        Reject(g.U32(77).U64(0).ToArray(), at, "array of unknown value type 77");
    }

    [Fact]
    public void ArraysNestedTooDeep()
    {
        var g = new RawGguf().Header(0, 1).Str("deep").U32(9);
        for (var i = 0; i < 40; i++)
        {
            g.U32(9).U64(1);
        }

        g.U32(4).U64(0);
        Reject(g.ToArray(), 24 + 8 + 4 + 4 + 16 * 12, "nested more than 16 deep");
    }

    [Fact]
    public void ZeroOrMoreThanFourDimensions()
    {
        var (bytes, at, _, _) = OneTensor([]);
        Reject(bytes, at, "tensor 'w' has 0 dimensions");
        (bytes, at, _, _) = OneTensor([1, 1, 1, 1, 1]);
        Reject(bytes, at, "tensor 'w' has 5 dimensions");
    }

    [Fact]
    public void NegativeDimension()
    {
        var (bytes, at, _, _) = OneTensor([4, 1UL << 63]);
        Reject(bytes, at + 4 + 8, "ne[1] = 9223372036854775808 is negative");
    }

    [Fact]
    public void DimensionProductOverflows()
    {
        var (bytes, at, _, _) = OneTensor([1UL << 32, 1UL << 32]);
        Reject(bytes, at, "more elements than fit in int64");
    }

    [Fact]
    public void ByteSizeOverflows()
    {
        var (bytes, at, _, _) = OneTensor([1UL << 62]);
        Reject(bytes, at, "byte size that overflows int64");
    }

    [Fact]
    public void RowLengthNotAMultipleOfTheBlockSize()
    {
        var (bytes, at, _, _) = OneTensor([100, 2], type: Q4K);
        Reject(bytes, at, "of type q4_K has ne[0] = 100, not a multiple of the block size 256");
    }

    [Fact]
    public void UnknownTensorTypeIsReportedById()
    {
        var (bytes, _, at, _) = OneTensor([4], type: 31);
        Reject(bytes, at, "tensor 'w' has unknown ggml type id 31");
    }

    [Fact]
    public void MisalignedTensorOffset()
    {
        var (bytes, _, _, at) = OneTensor([4], offset: 4);
        Reject(bytes, at, "offset 4 is not a multiple of the alignment 32");
    }

    [Fact]
    public void TensorDataPastTheEnd()
    {
        var (bytes, _, _, at) = OneTensor([16], dataBytes: 60);
        Reject(bytes, at, "data [0, 0+64) runs past the end of the data section (60 bytes");
        (bytes, _, _, at) = OneTensor([4], offset: 1UL << 63);
        Reject(bytes, at, "runs past the end");
    }

    [Fact]
    public void DataSectionStartPastTheEnd()
    {
        var g = new RawGguf().Header(1, 0).Tensor("w", [0], F32, 0);
        var end = g.Position;
        Reject(g.ToArray(), end, "past the end of the");
    }

    [Fact]
    public void OverlappingTensors()
    {
        var g = new RawGguf().Header(2, 0).Tensor("a", [16], F32, 0).Str("b").U32(1).U64(16).U32(F32);
        var at = g.Position;
        Reject(g.U64(32).PadTo(32).Zeros(128).ToArray(), at, "tensor 'b' data [32, 96) overlaps tensor 'a' [0, 64)");
    }

    [Fact]
    public void DuplicateTensorNames()
    {
        var g = new RawGguf().Header(2, 0).Tensor("same", [8], F32, 0);
        var at = g.Position;
        Reject(g.Tensor("same", [8], F32, 32).PadTo(32).Zeros(64).ToArray(), at, "duplicate tensor name 'same' (tensors 0 and 1)");
    }

    [Fact]
    public void DuplicateKeys()
    {
        var g = new RawGguf().Header(0, 2).KvU32("k", 1);
        var at = g.Position;
        Reject(g.KvU32("k", 2).ToArray(), at, "duplicate metadata key 'k' (first at byte 24)");
    }

    [Fact]
    public void EmptyKey() => Reject(new RawGguf().Header(0, 1).KvU32("", 1).ToArray(), 24, "metadata entry 0 has an empty key");

    [Fact]
    public void TensorNameLongerThanGgmlAllows()
    {
        var (bytes, _, _, _) = OneTensor([4], name: new string('n', 64));
        Reject(bytes, 24, "name is 64 bytes; ggml allows at most 63");
    }

    [Fact]
    public void BadAlignment()
    {
        Reject(new RawGguf().Header(0, 1).KvU32("general.alignment", 48).ToArray(), 24, "general.alignment 48 is not a power of two");
        Reject(new RawGguf().Header(0, 1).KvU32("general.alignment", 0).ToArray(), 24, "general.alignment 0 is not a power of two");
        Reject(new RawGguf().Header(0, 1).KvStr("general.alignment", "32").ToArray(), 24, "general.alignment must be u32 but is str");
    }

    [Fact]
    public void TruncatedInsideAValue()
    {
        var g = new RawGguf().Header(0, 1).Str("k").U32(10);
        var at = g.Position;
        Reject(g.U32(7).ToArray(), at, "metadata key 'k' needs 8 bytes but the file ends 4 bytes after this point");
    }

    [Fact]
    public void TruncatedFileOnDiskIsRefusedThroughTheMapping()
    {
        var full = GgufSamples.Writer().ToArray();
        long end;
        using (var whole = GgufFile.Open(full))
        {
            end = whole.Tensors.Max(t => whole.DataOffset + t.Offset + t.ByteSize);
        }

        var path = GgufSamples.TempPath("trunc");
        File.WriteAllBytes(path, full[..(int)(end - 1)]);
        try
        {
            var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path).Dispose());
            Assert.Contains("runs past the end of the data section", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
