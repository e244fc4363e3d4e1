using System.Runtime.InteropServices;
using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Xunit.Abstractions;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>Files written by ggml read identically in Ferrum, and files written by Ferrum read identically in ggml.</summary>
public class GgufGgmlCrossTests
{
    private readonly ITestOutputHelper _output;

    public GgufGgmlCrossTests(ITestOutputHelper output)
    {
        _output = output;
        Assert.True(GgmlLibrary.IsAvailable, "ggml reference libraries (LLamaSharp.Backend.Cpu) must be present for tests");
    }

    [Fact]
    public void FileWrittenByGgmlReadsIdenticallyInFerrum()
    {
        var metadata = GgufSamples.AllTypesMetadata();
        var tensors = GgufSamples.AllTypesTensors(seed: 11);
        var path = GgufSamples.TempPath("ggml-written");
        try
        {
            WriteWithGgml(path, metadata, tensors);
            var ggml = GgmlGgufReader.TryRead(path, withData: true);
            Assert.NotNull(ggml);
            using var file = GgufFile.Open(path);
            GgmlGgufReader.AssertSameView(ggml, file, compareData: true);

            // Independent of both readers: the values and bytes handed to ggml's writer.
            Assert.Equal(metadata.Count, file.Metadata.Count);
            for (var i = 0; i < metadata.Count; i++)
            {
                Assert.Equal(metadata[i].Key, file.Metadata[i].Key);
                Assert.True(metadata[i].Value.Equals(file.Metadata[i].Value), metadata[i].Key);
            }

            for (var i = 0; i < tensors.Count; i++)
            {
                var t = file.Tensors[i];
                Assert.Equal(tensors[i].Name, t.Name);
                Assert.Equal(tensors[i].Type, t.Type);
                Assert.Equal(Pad4(tensors[i].Shape), new[] { t.Ne(0), t.Ne(1), t.Ne(2), t.Ne(3) });
                Assert.True(tensors[i].Data.AsSpan().SequenceEqual(file.GetTensorBytes(t)), t.Name);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(32, 3)]
    [InlineData(64, 3)]
    [InlineData(128, 2)]
    [InlineData(8, 3)]
    public void FileWrittenByFerrumReadsIdenticallyInGgml(int alignment, int version)
    {
        var path = GgufSamples.TempPath("ferrum-written");
        try
        {
            GgufSamples.Writer(seed: 13, alignment, version).WriteTo(path);
            var ggml = GgmlGgufReader.TryRead(path, withData: true);
            Assert.NotNull(ggml);
            using var file = GgufFile.Open(path);
            GgmlGgufReader.AssertSameView(ggml, file, compareData: true);

            // And ggml's view equals the inputs, not merely Ferrum's reading of them.
            var metadata = GgufSamples.AllTypesMetadata();
            for (var i = 0; i < metadata.Count; i++)
            {
                Assert.Equal(metadata[i].Key, ggml.Metadata[i].Key);
                Assert.True(metadata[i].Value.Equals(ggml.Metadata[i].Value), metadata[i].Key);
            }

            Assert.Equal(alignment, ggml.Alignment);
            var tensors = GgufSamples.AllTypesTensors(13);
            for (var i = 0; i < tensors.Count; i++)
            {
                Assert.Equal(tensors[i].Name, ggml.Tensors[i].Name);
                Assert.Equal((int)tensors[i].Type, ggml.Tensors[i].Type);
                Assert.Equal(Pad4(tensors[i].Shape), ggml.Tensors[i].Ne4);
                Assert.Equal(tensors[i].Data, ggml.TensorData[tensors[i].Name]);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FileWithoutTensorsMatchesGgml()
    {
        var path = GgufSamples.TempPath("no-tensors");
        try
        {
            new GgufWriter().AddMetadata("general.name", "empty").AddMetadata("x", new[] { 1.0, 2.0 }).WriteTo(path);
            var ggml = GgmlGgufReader.TryRead(path, withData: false);
            Assert.NotNull(ggml);
            using var file = GgufFile.Open(path);
            GgmlGgufReader.AssertSameView(ggml, file, compareData: false);
            Assert.Empty(file.Tensors);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Differential check on mutated files: whenever Ferrum and ggml both accept a mutant, they must report the same
    /// keys, values and tensor infos. (ggml is only called on mutants Ferrum accepted, i.e. structurally sound ones,
    /// because a ggml assert would abort the test process.)
    /// </summary>
    [Fact]
    public void MutantsAcceptedByBothReadersAreReadIdentically()
    {
        var rng = new Random(20261126);
        var bases = Enumerable.Range(0, 4).Select(GgufSamplesNoNested).ToArray();
        int both = 0, ferrumOnly = 0, compared = 0;
        for (var i = 0; i < 3000; i++)
        {
            var mutant = GgufMutator.Mutate(bases[i % bases.Length], rng);
            GgufFile file;
            try
            {
                file = GgufFile.Open(mutant);
            }
            catch (GgufFormatException)
            {
                continue;
            }

            using (file)
            {
                if (HasNul(file))
                {
                    continue; // ggml's C strings stop at NUL; not comparable
                }

                if (file.Tensors.Any(t => t.Shape.Contains(0)))
                {
                    // The ggml build in LLamaSharp.Backend.Cpu 0.30.0 divides by a zero dimension in its element-count
                    // overflow check (SIGFPE, found by this test); upstream ggml now guards it. Ferrum accepts such
                    // zero-element tensors, as current ggml does.
                    continue;
                }

                var ggml = GgmlGgufReader.TryReadBuffer(mutant);
                if (ggml is null)
                {
                    ferrumOnly++;
                    continue;
                }

                both++;
                GgmlGgufReader.AssertSameView(ggml, file, compareData: false);
                compared++;
            }
        }

        _output.WriteLine($"3000 mutants: {both} accepted by both readers and identical, {ferrumOnly} accepted by Ferrum only");
        Assert.True(both >= 100, $"only {both} mutants were accepted by both readers ({ferrumOnly} by Ferrum only)");
        Assert.Equal(both, compared);
    }

    private static byte[] GgufSamplesNoNested(int variant)
    {
        var w = new GgufWriter { Alignment = variant % 2 == 0 ? 32 : 64 };
        w.AddMetadata("general.architecture", "olmoe");
        w.AddMetadata("olmoe.expert_count", 8u);
        w.AddMetadata("s", "abc");
        w.AddMetadata("names", ["x", "yy", "zzz"]);
        w.AddMetadata("f", new[] { 1f, 2f });
        w.AddMetadata("b", true);
        w.AddMetadata("i", -5L);
        var rng = new Random(variant);
        for (var i = 0; i < 3; i++)
        {
            var data = new byte[32 * 4 * 2];
            rng.NextBytes(data);
            w.AddTensor($"t{i}", global::Ferrum.Quantization.GgmlType.F32, [32, 2], data);
        }

        return w.ToArray();
    }

    private static bool HasNul(GgufFile file) =>
        file.Tensors.Any(t => t.Name.Contains('\0')) || file.Metadata.Any(kv => kv.Key.Contains('\0') || ValueHasNul(kv.Value));

    private static bool ValueHasNul(GgufValue v) => v.Type switch
    {
        GgufValueType.String => v.AsString().Contains('\0'),
        GgufValueType.Array when v.ElementType == GgufValueType.String => v.AsArray<string>().Any(s => s.Contains('\0')),
        GgufValueType.Array when v.ElementType == GgufValueType.Array => v.AsArray<GgufValue>().Any(ValueHasNul),
        _ => false,
    };

    private static long[] Pad4(long[] shape) => [.. shape, .. Enumerable.Repeat(1L, 4 - shape.Length)];

    /// <summary>Writes a file through ggml's own gguf_set_* / gguf_add_tensor / gguf_write_to_file.</summary>
    private static unsafe void WriteWithGgml(string path, List<(string Key, GgufValue Value)> metadata, List<(string Name, global::Ferrum.Quantization.GgmlType Type, long[] Shape, byte[] Data)> tensors)
    {
        var ctx = GgmlNative.GgufInitEmpty();
        var memSize = tensors.Sum(t => (long)t.Data.Length + 1024) + (1 << 20);
        var gctx = (IntPtr)GgmlNative.Init(new GgmlNative.GgmlInitParams { MemSize = (nuint)memSize, MemBuffer = IntPtr.Zero, NoAlloc = 0 });
        Assert.NotEqual(IntPtr.Zero, gctx);
        try
        {
            foreach (var (key, value) in metadata)
            {
                SetValue(ctx, key, value);
            }

            foreach (var (name, type, shape, data) in tensors)
            {
                IntPtr t;
                fixed (long* ne = shape)
                {
                    t = GgmlNative.GgmlNewTensor(gctx, (int)type, shape.Length, ne);
                }

                Assert.NotEqual(IntPtr.Zero, t);
                GgmlNative.GgmlSetName(t, name);
                Assert.Equal((nuint)data.Length, GgmlNative.Nbytes((void*)t));
                data.AsSpan().CopyTo(new Span<byte>(GgmlNative.GetData((void*)t), data.Length));
                GgmlNative.GgufAddTensor(ctx, t);
            }

            Assert.True(GgmlNative.GgufWriteToFile(ctx, path, false), "gguf_write_to_file failed");
        }
        finally
        {
            GgmlNative.GgufFree(ctx);
            GgmlNative.Free((void*)gctx);
        }
    }

    private static unsafe void SetValue(IntPtr ctx, string key, GgufValue v)
    {
        switch (v.Type)
        {
            case GgufValueType.UInt8: GgmlNative.GgufSetValU8(ctx, key, v.AsUInt8()); return;
            case GgufValueType.Int8: GgmlNative.GgufSetValI8(ctx, key, v.AsInt8()); return;
            case GgufValueType.UInt16: GgmlNative.GgufSetValU16(ctx, key, v.AsUInt16()); return;
            case GgufValueType.Int16: GgmlNative.GgufSetValI16(ctx, key, v.AsInt16()); return;
            case GgufValueType.UInt32: GgmlNative.GgufSetValU32(ctx, key, v.AsUInt32()); return;
            case GgufValueType.Int32: GgmlNative.GgufSetValI32(ctx, key, v.AsInt32()); return;
            case GgufValueType.Float32: GgmlNative.GgufSetValF32(ctx, key, v.AsFloat32()); return;
            case GgufValueType.UInt64: GgmlNative.GgufSetValU64(ctx, key, v.AsUInt64()); return;
            case GgufValueType.Int64: GgmlNative.GgufSetValI64(ctx, key, v.AsInt64()); return;
            case GgufValueType.Float64: GgmlNative.GgufSetValF64(ctx, key, v.AsFloat64()); return;
            case GgufValueType.Bool: GgmlNative.GgufSetValBool(ctx, key, v.AsBool()); return;
            case GgufValueType.String: GgmlNative.GgufSetValStr(ctx, key, v.AsString()); return;
        }

        if (v.ElementType == GgufValueType.String)
        {
            var strings = v.AsArray<string>();
            var handles = strings.Select(s => Marshal.StringToCoTaskMemUTF8(s)).ToArray();
            try
            {
                fixed (IntPtr* p = handles)
                {
                    GgmlNative.GgufSetArrStr(ctx, key, (byte**)p, (nuint)handles.Length);
                }
            }
            finally
            {
                foreach (var h in handles)
                {
                    Marshal.FreeCoTaskMem(h);
                }
            }

            return;
        }

        byte[] raw = v.ElementType switch
        {
            GgufValueType.UInt8 => v.As<byte[]>(),
            GgufValueType.Int8 => MemoryMarshal.AsBytes(v.As<sbyte[]>().AsSpan()).ToArray(),
            GgufValueType.UInt16 => MemoryMarshal.AsBytes(v.As<ushort[]>().AsSpan()).ToArray(),
            GgufValueType.Int16 => MemoryMarshal.AsBytes(v.As<short[]>().AsSpan()).ToArray(),
            GgufValueType.UInt32 => MemoryMarshal.AsBytes(v.As<uint[]>().AsSpan()).ToArray(),
            GgufValueType.Int32 => MemoryMarshal.AsBytes(v.As<int[]>().AsSpan()).ToArray(),
            GgufValueType.Float32 => MemoryMarshal.AsBytes(v.As<float[]>().AsSpan()).ToArray(),
            GgufValueType.UInt64 => MemoryMarshal.AsBytes(v.As<ulong[]>().AsSpan()).ToArray(),
            GgufValueType.Int64 => MemoryMarshal.AsBytes(v.As<long[]>().AsSpan()).ToArray(),
            GgufValueType.Float64 => MemoryMarshal.AsBytes(v.As<double[]>().AsSpan()).ToArray(),
            GgufValueType.Bool => v.As<bool[]>().Select(b => b ? (byte)1 : (byte)0).ToArray(),
            _ => throw new InvalidOperationException("ggml cannot store nested arrays"),
        };
        fixed (byte* p = raw)
        {
            GgmlNative.GgufSetArrData(ctx, key, (int)v.ElementType, p, (nuint)v.Count);
        }
    }
}
