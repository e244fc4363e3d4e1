using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>Ferrum's writer and reader agree with each other and with the values put in.</summary>
public class GgufRoundTripTests
{
    [Theory]
    [InlineData(32, 3)]
    [InlineData(64, 3)]
    [InlineData(1, 3)]
    [InlineData(4096, 2)]
    public void WrittenFileReadsBackWithEveryValueAndTensor(int alignment, int version)
    {
        var path = GgufSamples.TempPath("rt");
        try
        {
            GgufSamples.Writer(seed: 7, alignment, version).WriteTo(path);
            using var file = GgufFile.Open(path);
            Assert.Equal(version, file.Version);
            Assert.Equal(alignment, file.Alignment);
            Assert.Equal(0, file.DataOffset % alignment);
            Assert.Equal("qwen3moe", file.Architecture);

            var expected = GgufSamples.AllTypesMetadata();
            if (alignment != 32)
            {
                expected.Add(("general.alignment", GgufValue.From((uint)alignment)));
            }

            Assert.Equal(expected.Count, file.Metadata.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].Key, file.Metadata[i].Key);
                Assert.True(expected[i].Value.Equals(file.Metadata[i].Value), $"{expected[i].Key}: {expected[i].Value} vs {file.Metadata[i].Value}");
            }

            var tensors = GgufSamples.AllTypesTensors(7);
            Assert.Equal(tensors.Count, file.Tensors.Count);
            for (var i = 0; i < tensors.Count; i++)
            {
                var (name, type, shape, data) = tensors[i];
                var t = file.Tensors[i];
                Assert.Equal(name, t.Name);
                Assert.Equal(type, t.Type);
                Assert.Equal(shape, t.Shape);
                Assert.Equal(0, t.Offset % alignment);
                Assert.Equal(data.Length, t.ByteSize);
                Assert.True(data.AsSpan().SequenceEqual(file.GetTensorBytes(t)), name);
                Assert.Same(t, file.GetTensor(name));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FileAndMemoryOpenGiveTheSameView()
    {
        var bytes = GgufSamples.Writer(seed: 3, alignment: 64).ToArray();
        var path = GgufSamples.TempPath("mem");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var a = GgufFile.Open(path);
            using var b = GgufFile.Open(bytes);
            Assert.Equal(a.DataOffset, b.DataOffset);
            Assert.Equal(a.FileSize, b.FileSize);
            Assert.Equal(a.Metadata.Select(e => e.Key), b.Metadata.Select(e => e.Key));
            Assert.All(a.Metadata.Zip(b.Metadata), p => Assert.True(p.First.Value.Equals(p.Second.Value)));
            Assert.Equal(a.Tensors.Select(t => t.ToString()), b.Tensors.Select(t => t.ToString()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void NestedArraysRoundTrip()
    {
        var nested = GgufValue.FromArray([
            GgufValue.FromArray(new[] { 1, 2, 3 }),
            GgufValue.FromArray(["a", "b"]),
            GgufValue.FromArray([GgufValue.FromArray(new[] { 0.5 })]),
            GgufValue.FromArray(Array.Empty<bool>()),
        ]);
        var bytes = new GgufWriter().AddMetadata("n", nested).ToArray();
        using var file = GgufFile.Open(bytes);
        var v = file.Metadata["n"];
        Assert.True(nested.Equals(v));
        Assert.Equal(GgufValueType.Array, v.ElementType);
        var inner = v.AsArray<GgufValue>();
        Assert.Equal(new[] { "a", "b" }, inner[1].AsArray<string>());
        Assert.Equal(0.5, inner[2].AsArray<GgufValue>()[0].AsArray<double>()[0]);
    }

    [Fact]
    public void TypedAccessorsReturnValuesAndNameTheProblem()
    {
        using var file = GgufFile.Open(GgufSamples.Writer().ToArray(), "sample.gguf");
        var md = file.Metadata;
        Assert.Equal(4_000_000_000u, md.Get<uint>("t.u32"));
        Assert.Equal(4_000_000_000u, md.GetUInt32("t.u32"));
        Assert.Equal(-2_000_000_000L, md.GetInt64("t.i32"));
        Assert.Equal(250, md.GetInt32("t.u8"));
        Assert.Equal(0.1f, md.GetFloat32("t.f32"));
        Assert.Equal(Math.PI, md.GetFloat64("t.f64"));
        Assert.True(md.GetBool("t.bool"));
        Assert.Equal("qwen3moe", md.GetString("general.architecture"));
        Assert.Equal(new uint[] { 1, 2, uint.MaxValue }, md.Get<uint[]>("a.u32"));
        Assert.Equal(300, md.GetArray<string>("tokenizer.ggml.tokens").Count);
        Assert.True(md.TryGet<float>("t.f32", out var f) && f == 0.1f);
        Assert.False(md.TryGet<float>("nope", out _));

        var missing = Assert.Throws<GgufException>(() => md.GetString("no.such.key"));
        Assert.Contains("'no.such.key' not found in sample.gguf", missing.Message);
        var wrong = Assert.Throws<GgufException>(() => md.GetString("t.u32"));
        Assert.Contains("'t.u32'", wrong.Message);
        Assert.Contains("u32", wrong.Message);
        Assert.Contains("str", wrong.Message);
        var tooBig = Assert.Throws<GgufException>(() => md.GetInt32("t.u32"));
        Assert.Contains("does not fit i32", tooBig.Message);
        Assert.Throws<GgufException>(() => md.GetInt64("t.u64")); // 1.8e19 does not fit i64
        Assert.Throws<GgufException>(() => md.GetArray<int>("a.u32"));
        Assert.Throws<GgufException>(() => md.TryGet<int>("t.u32", out _));
        var noTensor = Assert.Throws<GgufException>(() => file.GetTensor("missing.weight"));
        Assert.Equal("tensor 'missing.weight' not found in sample.gguf", noTensor.Message);
    }

    [Fact]
    public void StridesFollowGgml()
    {
        var info = GgmlTypeInfo.Get(GgmlType.Q4_K);
        var w = new GgufWriter();
        w.AddTensor("e", GgmlType.Q4_K, [512, 3, 4], new byte[512 / 256 * 144 * 12]);
        using var file = GgufFile.Open(w.ToArray());
        var t = file.Tensors[0];
        Assert.Equal(info.TypeSize, t.Stride(0));
        Assert.Equal(2 * 144, t.Stride(1));
        Assert.Equal(2 * 144 * 3, t.Stride(2));
        Assert.Equal(2 * 144 * 3 * 4, t.Stride(3));
        Assert.Equal(t.ByteSize, t.Stride(3));
        Assert.Equal(288, t.RowBytes);
        Assert.Equal(12, t.RowCount);
        Assert.Equal(3, t.Dimensions);
        Assert.Equal(512 * 12, t.ElementCount);
        var view = file.GetView("e");
        Assert.Equal(t.Stride(2), view.Slab(3).Length);
        Assert.Equal(288, view.Row(11).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => view.Slab(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => view.Row(12));
    }

    [Fact]
    public unsafe void DisposedFileRefusesEveryAccessButALeaseKeepsTheMapping()
    {
        var path = GgufSamples.TempPath("dispose");
        GgufSamples.Writer(seed: 5).WriteTo(path);
        try
        {
            var file = GgufFile.Open(path);
            var t = file.Tensors[3];
            var view = file.GetView(t);
            var expected = view.Bytes.ToArray();
            var lease = file.AcquireLease();
            file.Dispose();
            file.Dispose(); // idempotent

            Assert.True(file.IsDisposed);
            Assert.Throws<ObjectDisposedException>(() => file.GetTensorBytes(t).Length);
            Assert.Throws<ObjectDisposedException>(() => (IntPtr)file.GetTensorPointer(t));
            Assert.Throws<ObjectDisposedException>(() => view.Bytes.Length);
            Assert.Throws<ObjectDisposedException>(() => view.Row(0).Length);
            Assert.Throws<ObjectDisposedException>(() => view.CopyTo(new byte[expected.Length]));
            Assert.Throws<ObjectDisposedException>(() => file.AcquireLease());

            // The lease taken before Dispose still reads the mapped bytes.
            Assert.True(expected.AsSpan().SequenceEqual(lease.GetTensorBytes(t)));
            lease.Dispose();
            lease.Dispose();
            Assert.Throws<ObjectDisposedException>(() => lease.GetTensorBytes(t).Length);

            // Metadata stays readable: it was copied at open.
            Assert.Equal("qwen3moe", file.Metadata.GetString("general.architecture"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TensorOfAnotherFileIsRefused()
    {
        using var a = GgufFile.Open(GgufSamples.Writer(seed: 1).ToArray());
        using var b = GgufFile.Open(GgufSamples.Writer(seed: 1).ToArray());
        Assert.Throws<ArgumentException>(() => a.GetTensorBytes(b.Tensors[0]).Length);
    }

    [Fact]
    public void OpeningTouchesNoTensorBytes()
    {
        Assert.True(GuardedBuffer.IsSupported, "this check needs Linux mprotect");
        var page = Environment.SystemPageSize;
        var w = GgufSamples.Writer(seed: 9, alignment: page);
        var bytes = w.ToArray();
        using var guard = new GuardedBuffer(bytes.Length);
        using var probe = GgufFile.Open(bytes);
        Assert.Equal(0, probe.DataOffset % page);

        // Every page of the data section is inaccessible: a read of any tensor byte would crash the process.
        var memory = guard.PlaceAndProtectFrom(bytes, (int)probe.DataOffset);
        using (var file = GgufFile.Open(memory))
        {
            Assert.Equal(probe.Tensors.Count, file.Tensors.Count);
            Assert.Equal(probe.Metadata.Count, file.Metadata.Count);
            _ = file.GetView(file.Tensors[0].Name);
        }

        guard.Unprotect();
    }

    [Fact]
    public void WriterRefusesInvalidInput()
    {
        var w = new GgufWriter();
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Alignment = 48);
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Version = 1);
        w.AddMetadata("k", 1u);
        Assert.Throws<ArgumentException>(() => w.AddMetadata("k", 2u));
        Assert.Throws<ArgumentException>(() => w.AddMetadata("", 2u));
        Assert.Throws<ArgumentException>(() => w.AddMetadata("general.alignment", 64));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.Q4_K, [100], new byte[144]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.Q4_K, [256], new byte[143]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.F32, [], []));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.F32, [1, 1, 1, 1, 1], new byte[4]));
        Assert.Throws<ArgumentException>(() => w.AddTensor(new string('x', 64), GgmlType.F32, [1], new byte[4]));
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", (GgmlType)31, [1], new byte[4]));
        w.AddTensor("q", GgmlType.F32, [1], new byte[4]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgmlType.F32, [1], new byte[4]));
        w.AddTensorInfo("later", GgmlType.F32, [4]);
        Assert.Throws<InvalidOperationException>(() => w.ToArray());
    }

    [Fact]
    public void MetadataOnlyHeaderPlusAppendedDataIsAValidFile()
    {
        var w = new GgufWriter { Alignment = 64 };
        w.AddMetadata("general.architecture", "llama");
        w.AddTensorInfo("a", GgmlType.F32, [3]);
        w.AddTensorInfo("b", GgmlType.Q8_0, [64, 2]);
        using var ms = new MemoryStream();
        var dataStart = w.WriteMetadataTo(ms);
        Assert.Equal(ms.Length, dataStart);
        Assert.Equal(new long[] { 0, 64 }, w.DataOffsets);
        ms.SetLength(dataStart + w.DataSize);
        ms.Position = dataStart + 64;
        ms.WriteByte(0xAB);
        using var file = GgufFile.Open(ms.ToArray());
        Assert.Equal(dataStart, file.DataOffset);
        Assert.Equal(0xAB, file.GetTensorBytes(file.GetTensor("b"))[0]);
        Assert.Equal(2 * 2 * 34, file.GetTensor("b").ByteSize); // 4 q8_0 blocks of 34 bytes
    }
}
