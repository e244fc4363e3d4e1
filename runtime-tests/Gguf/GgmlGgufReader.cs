using System.Runtime.InteropServices;
using Ferrum.GgmlReference;
using Ferrum.Gguf;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>What ggml's gguf_init_from_file reports about a file, gathered through gguf_get_*.</summary>
internal sealed record GgmlGgufView(
    uint Version,
    long Alignment,
    long DataOffset,
    List<(string Key, GgufValue Value)> Metadata,
    List<(string Name, int Type, long[] Ne4, long Offset, long Size)> Tensors,
    Dictionary<string, byte[]> TensorData);

/// <summary>Reads a GGUF file with ggml itself (never with Ferrum) for the cross-checks.</summary>
internal static unsafe class GgmlGgufReader
{
    /// <summary>Null when ggml refuses the file.</summary>
    public static GgmlGgufView? TryRead(string path, bool withData)
    {
        IntPtr ggmlCtx = IntPtr.Zero;
        var p = new GgmlNative.GgufInitParams { NoAlloc = 0, Ctx = withData ? &ggmlCtx : null };
        var ctx = GgmlNative.GgufInitFromFile(path, p);
        if (ctx == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            return Collect(ctx, ggmlCtx);
        }
        finally
        {
            GgmlNative.GgufFree(ctx);
            if (ggmlCtx != IntPtr.Zero)
            {
                GgmlNative.Free((void*)ggmlCtx);
            }
        }
    }

    /// <summary>Parses an in-memory image with gguf_init_from_buffer (metadata only); null when ggml refuses it.</summary>
    public static GgmlGgufView? TryReadBuffer(byte[] data)
    {
        if (data.Length == 0)
        {
            return null;
        }

        fixed (byte* d = data)
        {
            var ctx = GgmlNative.GgufInitFromBuffer(d, (nuint)data.Length, new GgmlNative.GgufInitParams());
            if (ctx == IntPtr.Zero)
            {
                return null;
            }

            try
            {
                return Collect(ctx, IntPtr.Zero);
            }
            finally
            {
                GgmlNative.GgufFree(ctx);
            }
        }
    }

    private static GgmlGgufView Collect(IntPtr ctx, IntPtr ggmlCtx)
    {
        var metadata = new List<(string, GgufValue)>();
        var nKv = GgmlNative.GgufGetNKv(ctx);
        for (var i = 0L; i < nKv; i++)
        {
            var key = GgmlNative.Utf8(GgmlNative.GgufGetKey(ctx, i));
            metadata.Add((key, ReadValue(ctx, i)));
        }

        var tensors = new List<(string, int, long[], long, long)>();
        var data = new Dictionary<string, byte[]>();
        var nT = GgmlNative.GgufGetNTensors(ctx);
        for (var i = 0L; i < nT; i++)
        {
            var name = GgmlNative.Utf8(GgmlNative.GgufGetTensorName(ctx, i));
            var ne = GgmlNative.GgufGetTensorNe(ctx, i);
            tensors.Add((name, GgmlNative.GgufGetTensorType(ctx, i), [ne[0], ne[1], ne[2], ne[3]],
                (long)GgmlNative.GgufGetTensorOffset(ctx, i), (long)GgmlNative.GgufGetTensorSize(ctx, i)));
            if (ggmlCtx != IntPtr.Zero)
            {
                var t = GgmlNative.GgmlGetTensor(ggmlCtx, name);
                var bytes = new byte[(long)GgmlNative.Nbytes((void*)t)];
                new ReadOnlySpan<byte>(GgmlNative.GetData((void*)t), bytes.Length).CopyTo(bytes);
                data[name] = bytes;
            }
        }

        return new GgmlGgufView(GgmlNative.GgufGetVersion(ctx), (long)GgmlNative.GgufGetAlignment(ctx),
            (long)GgmlNative.GgufGetDataOffset(ctx), metadata, tensors, data);
    }

    private static GgufValue ReadValue(IntPtr ctx, long i)
    {
        var type = (GgufValueType)GgmlNative.GgufGetKvType(ctx, i);
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.From(GgmlNative.GgufGetValU8(ctx, i));
            case GgufValueType.Int8: return GgufValue.From(GgmlNative.GgufGetValI8(ctx, i));
            case GgufValueType.UInt16: return GgufValue.From(GgmlNative.GgufGetValU16(ctx, i));
            case GgufValueType.Int16: return GgufValue.From(GgmlNative.GgufGetValI16(ctx, i));
            case GgufValueType.UInt32: return GgufValue.From(GgmlNative.GgufGetValU32(ctx, i));
            case GgufValueType.Int32: return GgufValue.From(GgmlNative.GgufGetValI32(ctx, i));
            case GgufValueType.Float32: return GgufValue.From(GgmlNative.GgufGetValF32(ctx, i));
            case GgufValueType.UInt64: return GgufValue.From(GgmlNative.GgufGetValU64(ctx, i));
            case GgufValueType.Int64: return GgufValue.From(GgmlNative.GgufGetValI64(ctx, i));
            case GgufValueType.Float64: return GgufValue.From(GgmlNative.GgufGetValF64(ctx, i));
            case GgufValueType.Bool: return GgufValue.From(GgmlNative.GgufGetValBool(ctx, i));
            case GgufValueType.String: return GgufValue.From(GgmlNative.Utf8(GgmlNative.GgufGetValStr(ctx, i)));
            case GgufValueType.Array: break;
            default: throw new InvalidOperationException($"ggml reported value type {(int)type}");
        }

        var elem = (GgufValueType)GgmlNative.GgufGetArrType(ctx, i);
        var n = (int)GgmlNative.GgufGetArrN(ctx, i);
        if (elem == GgufValueType.String)
        {
            var strings = new string[n];
            for (var j = 0; j < n; j++)
            {
                strings[j] = GgmlNative.Utf8(GgmlNative.GgufGetArrStr(ctx, i, (nuint)j));
            }

            return GgufValue.FromArray(strings);
        }

        var raw = n == 0 ? [] : new ReadOnlySpan<byte>(GgmlNative.GgufGetArrData(ctx, i), n * elem.FixedSize()).ToArray();
        return elem switch
        {
            GgufValueType.UInt8 => GgufValue.FromArray(raw),
            GgufValueType.Int8 => GgufValue.FromArray(MemoryMarshal.Cast<byte, sbyte>(raw).ToArray()),
            GgufValueType.UInt16 => GgufValue.FromArray(MemoryMarshal.Cast<byte, ushort>(raw).ToArray()),
            GgufValueType.Int16 => GgufValue.FromArray(MemoryMarshal.Cast<byte, short>(raw).ToArray()),
            GgufValueType.UInt32 => GgufValue.FromArray(MemoryMarshal.Cast<byte, uint>(raw).ToArray()),
            GgufValueType.Int32 => GgufValue.FromArray(MemoryMarshal.Cast<byte, int>(raw).ToArray()),
            GgufValueType.Float32 => GgufValue.FromArray(MemoryMarshal.Cast<byte, float>(raw).ToArray()),
            GgufValueType.UInt64 => GgufValue.FromArray(MemoryMarshal.Cast<byte, ulong>(raw).ToArray()),
            GgufValueType.Int64 => GgufValue.FromArray(MemoryMarshal.Cast<byte, long>(raw).ToArray()),
            GgufValueType.Float64 => GgufValue.FromArray(MemoryMarshal.Cast<byte, double>(raw).ToArray()),
            GgufValueType.Bool => GgufValue.FromArray(raw.Select(b => b != 0).ToArray()),
            _ => throw new InvalidOperationException($"ggml reported array element type {(int)elem}"),
        };
    }

    /// <summary>Asserts that Ferrum's view of a file equals ggml's, field by field.</summary>
    public static void AssertSameView(GgmlGgufView ggml, GgufFile file, bool compareData)
    {
        Assert.Equal((int)ggml.Version, file.Version);
        Assert.Equal(ggml.Alignment, file.Alignment);
        Assert.Equal(ggml.DataOffset, file.DataOffset);
        Assert.Equal(ggml.Metadata.Count, file.Metadata.Count);
        for (var i = 0; i < ggml.Metadata.Count; i++)
        {
            var (key, value) = ggml.Metadata[i];
            var mine = file.Metadata[i];
            Assert.Equal(key, mine.Key);
            Assert.True(value.Equals(mine.Value), $"key '{key}': ggml has {value.TypeName} {value.Format(6)}, Ferrum has {mine.Value.TypeName} {mine.Value.Format(6)}");
        }

        Assert.Equal(ggml.Tensors.Count, file.Tensors.Count);
        for (var i = 0; i < ggml.Tensors.Count; i++)
        {
            var (name, type, ne4, offset, size) = ggml.Tensors[i];
            var t = file.Tensors[i];
            Assert.Equal(name, t.Name);
            Assert.Equal(type, (int)t.Type);
            Assert.Equal(ne4, new[] { t.Ne(0), t.Ne(1), t.Ne(2), t.Ne(3) });
            Assert.Equal(offset, t.Offset);
            Assert.Equal(size, t.ByteSize);
            if (compareData)
            {
                Assert.True(ggml.TensorData[name].AsSpan().SequenceEqual(file.GetTensorBytes(t)), $"tensor '{name}' bytes differ");
            }
        }
    }
}
