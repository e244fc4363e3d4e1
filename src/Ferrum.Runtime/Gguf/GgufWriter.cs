using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Ferrum.Quantization;

namespace Ferrum.Gguf;

/// <summary>
/// Builds a GGUF v3 (or v2) file: metadata of every type (arrays of scalars and strings, nested arrays), tensors of
/// every type in the ggml type table, and a chosen alignment. Tensors are laid out in the order added, each at the
/// next multiple of <see cref="Alignment"/>, exactly as ggml's gguf_write_to_file does, so ggml's strict offset check
/// accepts the result.
/// </summary>
public sealed class GgufWriter
{
    private const string AlignmentKey = "general.alignment";

    private readonly List<GgufKeyValue> _entries = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<(string Name, GgmlTypeInfo Type, long[] Shape, long Bytes, byte[]? Data)> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _alignment = GgufParser.DefaultAlignment;
    private int _version = 3;

    /// <summary>
    /// Data alignment, a power of two (default 32). A value other than 32 is recorded as general.alignment (u32)
    /// after the other keys unless that key was added explicitly.
    /// </summary>
    public int Alignment
    {
        get => _alignment;
        set => _alignment = value > 0 && (value & (value - 1)) == 0 && value <= 1 << 30
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), $"alignment {value} is not a power of two in [1, 2^30]");
    }

    /// <summary>GGUF version to write: 3 (default) or 2 (same layout).</summary>
    public int Version
    {
        get => _version;
        set => _version = value is 2 or 3 ? value : throw new ArgumentOutOfRangeException(nameof(value), "only GGUF v2 and v3 can be written");
    }

    /// <summary>Metadata added so far, in order.</summary>
    public IReadOnlyList<GgufKeyValue> Metadata => _entries;

    /// <summary>Adds a key; keys are unique and non-empty.</summary>
    public GgufWriter AddMetadata(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key.Length == 0)
        {
            throw new ArgumentException("metadata keys must not be empty", nameof(key));
        }

        if (key == AlignmentKey && value.Type != GgufValueType.UInt32)
        {
            throw new ArgumentException($"{AlignmentKey} must be u32, not {value.TypeName}", nameof(value));
        }

        if (!_keys.Add(key))
        {
            throw new ArgumentException($"metadata key '{key}' was already added", nameof(key));
        }

        _entries.Add(new GgufKeyValue(key, value));
        return this;
    }

    public GgufWriter AddMetadata(string key, byte value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, sbyte value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, ushort value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, short value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, uint value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, int value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, ulong value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, long value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, float value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, double value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, bool value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, string value) => AddMetadata(key, GgufValue.From(value));

    public GgufWriter AddMetadata(string key, byte[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, sbyte[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, ushort[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, short[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, uint[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, int[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, ulong[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, long[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, float[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, double[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, bool[] values) => AddMetadata(key, GgufValue.FromArray(values));

    public GgufWriter AddMetadata(string key, string[] values) => AddMetadata(key, GgufValue.FromArray(values));

    /// <summary>
    /// Adds a tensor. <paramref name="shape"/> is in GGUF order (ne[0] = row length first), 1 to 4 dims;
    /// <paramref name="data"/> must hold exactly the tensor's bytes and is copied.
    /// </summary>
    public GgufWriter AddTensor(string name, GgmlType type, ReadOnlySpan<long> shape, ReadOnlySpan<byte> data)
    {
        var (info, bytes) = CheckTensor(name, type, shape);
        if (data.Length != bytes)
        {
            throw new ArgumentException($"tensor '{name}' ({info.Name} [{string.Join(", ", shape.ToArray())}]) needs {bytes} bytes of data, got {data.Length}", nameof(data));
        }

        _names.Add(name);
        _tensors.Add((name, info, shape.ToArray(), bytes, data.ToArray()));
        return this;
    }

    /// <summary>
    /// Adds a tensor's info without data, for files too large to stage in memory: write the header with
    /// <see cref="WriteMetadataTo"/>, then append each tensor's bytes at <see cref="DataOffsets"/> yourself
    /// (like ggml's gguf_write_to_file with only_meta). <see cref="WriteTo(Stream)"/> refuses such tensors.
    /// </summary>
    public GgufWriter AddTensorInfo(string name, GgmlType type, ReadOnlySpan<long> shape)
    {
        var (info, bytes) = CheckTensor(name, type, shape);
        _names.Add(name);
        _tensors.Add((name, info, shape.ToArray(), bytes, null));
        return this;
    }

    /// <summary>Each tensor's data offset relative to the data section, in the order added.</summary>
    public IReadOnlyList<long> DataOffsets
    {
        get
        {
            var offsets = new long[_tensors.Count];
            var offset = 0L;
            for (var i = 0; i < _tensors.Count; i++)
            {
                offsets[i] = offset;
                offset = checked(offset + Pad(_tensors[i].Bytes));
            }

            return offsets;
        }
    }

    /// <summary>Total size of the data section (every tensor padded to the alignment).</summary>
    public long DataSize => _tensors.Aggregate(0L, (sum, t) => checked(sum + Pad(t.Bytes)));

    private (GgmlTypeInfo Info, long Bytes) CheckTensor(string name, GgmlType type, ReadOnlySpan<long> shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Encoding.UTF8.GetByteCount(name) > GgufParser.MaxTensorNameBytes)
        {
            throw new ArgumentException($"tensor name '{name}' is longer than {GgufParser.MaxTensorNameBytes} UTF-8 bytes (ggml's limit)", nameof(name));
        }

        if (!GgmlTypeInfo.TryGet((uint)type, out var info))
        {
            throw new ArgumentException($"unknown ggml type id {(uint)type}", nameof(type));
        }

        if (shape.Length is 0 or > 4)
        {
            throw new ArgumentException($"tensor '{name}' has {shape.Length} dimensions; 1 to 4 are allowed", nameof(shape));
        }

        var elements = 1L;
        foreach (var ne in shape)
        {
            if (ne < 0)
            {
                throw new ArgumentException($"tensor '{name}' has a negative dimension {ne}", nameof(shape));
            }

            elements = checked(elements * ne);
        }

        if (shape[0] % info.BlockSize != 0)
        {
            throw new ArgumentException($"tensor '{name}' ne[0] = {shape[0]} is not a multiple of {info.Name}'s block size {info.BlockSize}", nameof(shape));
        }

        if (_names.Contains(name))
        {
            throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        }

        return (info, checked(elements / info.BlockSize * info.TypeSize));
    }

    /// <summary>Adds an f32 tensor from floats.</summary>
    public GgufWriter AddTensor(string name, ReadOnlySpan<long> shape, ReadOnlySpan<float> values) =>
        AddTensor(name, GgmlType.F32, shape, MemoryMarshal.AsBytes(values));

    /// <summary>Writes the file to <paramref name="path"/> (created or overwritten).</summary>
    public void WriteTo(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        WriteTo(stream);
    }

    /// <summary>The complete file as a byte array.</summary>
    public byte[] ToArray()
    {
        using var ms = new MemoryStream();
        WriteTo(ms);
        return ms.ToArray();
    }

    /// <summary>Writes the file to <paramref name="stream"/> from its current position.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        foreach (var t in _tensors)
        {
            if (t.Data is null)
            {
                throw new InvalidOperationException($"tensor '{t.Name}' was added without data; use WriteMetadataTo and append the data yourself");
            }
        }

        var w = new CountingWriter(stream);
        WriteHeader(w);
        foreach (var t in _tensors)
        {
            w.Bytes(t.Data);
            w.PadTo(_alignment);
        }

        w.Flush();
    }

    /// <summary>
    /// Writes only the header (metadata, tensor infos, padding to the alignment) and returns its length, which is
    /// where the data section starts relative to the stream's starting position.
    /// </summary>
    public long WriteMetadataTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var w = new CountingWriter(stream);
        WriteHeader(w);
        w.Flush();
        return w.Written;
    }

    private void WriteHeader(CountingWriter w)
    {
        var entries = new List<GgufKeyValue>(_entries);
        var explicitAlignment = entries.FirstOrDefault(e => e.Key == AlignmentKey);
        if (explicitAlignment is not null)
        {
            if (explicitAlignment.Value.AsUInt32() != (uint)_alignment)
            {
                throw new InvalidOperationException($"{AlignmentKey} = {explicitAlignment.Value.AsUInt32()} disagrees with Alignment = {_alignment}");
            }
        }
        else if (_alignment != GgufParser.DefaultAlignment)
        {
            entries.Add(new GgufKeyValue(AlignmentKey, GgufValue.From((uint)_alignment)));
        }

        w.U32(GgufParser.Magic);
        w.U32((uint)_version);
        w.U64((ulong)_tensors.Count);
        w.U64((ulong)entries.Count);
        foreach (var e in entries)
        {
            w.Str(e.Key);
            w.U32((uint)e.Value.Type);
            WriteValue(w, e.Value);
        }

        var offsets = DataOffsets;
        for (var i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            w.Str(t.Name);
            w.U32((uint)t.Shape.Length);
            foreach (var ne in t.Shape)
            {
                w.U64((ulong)ne);
            }

            w.U32((uint)t.Type.Type);
            w.U64((ulong)offsets[i]);
        }

        // ggml pads the end of the header even without tensors; readers then ignore the padding.
        w.PadTo(_alignment);
    }

    private long Pad(long n) => checked(n + _alignment - 1) / _alignment * _alignment;

    private static void WriteValue(CountingWriter w, GgufValue v)
    {
        if (v.IsArray)
        {
            w.U32((uint)v.ElementType);
            w.U64((ulong)v.Count);
            switch (v.RawArray)
            {
                case string[] strings:
                    foreach (var s in strings)
                    {
                        w.Str(s);
                    }

                    break;
                case bool[] bools:
                    foreach (var b in bools)
                    {
                        w.Byte(b ? (byte)1 : (byte)0);
                    }

                    break;
                case GgufValue[] nested:
                    foreach (var n in nested)
                    {
                        WriteValue(w, n);
                    }

                    break;
                case byte[] a: w.Bytes(a); break;
                case sbyte[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case ushort[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case short[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case uint[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case int[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case float[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case ulong[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case long[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                case double[] a: w.Bytes(MemoryMarshal.AsBytes(a.AsSpan())); break;
                default: throw new InvalidOperationException("unreachable");
            }

            return;
        }

        switch (v.RawScalar)
        {
            case byte x: w.Byte(x); break;
            case sbyte x: w.Byte((byte)x); break;
            case ushort x: w.U16(x); break;
            case short x: w.U16((ushort)x); break;
            case uint x: w.U32(x); break;
            case int x: w.U32((uint)x); break;
            case float x: w.U32(BitConverter.SingleToUInt32Bits(x)); break;
            case bool x: w.Byte(x ? (byte)1 : (byte)0); break;
            case string x: w.Str(x); break;
            case ulong x: w.U64(x); break;
            case long x: w.U64((ulong)x); break;
            case double x: w.U64(BitConverter.DoubleToUInt64Bits(x)); break;
            default: throw new InvalidOperationException("unreachable");
        }
    }

    /// <summary>Little-endian primitive writer that counts bytes for padding.</summary>
    private sealed class CountingWriter(Stream stream)
    {
        private readonly BufferedStream _out = new(stream, 1 << 16);
        private long _written;

        public void Byte(byte b)
        {
            _out.WriteByte(b);
            _written++;
        }

        public void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            Bytes(b);
        }

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            Bytes(b);
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            Bytes(b);
        }

        public void Str(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            U64((ulong)bytes.Length);
            Bytes(bytes);
        }

        public void Bytes(ReadOnlySpan<byte> data)
        {
            _out.Write(data);
            _written += data.Length;
        }

        public long Written => _written;

        public void PadTo(int alignment)
        {
            Span<byte> zeros = stackalloc byte[256];
            zeros.Clear();
            var pad = (alignment - _written % alignment) % alignment;
            while (pad > 0)
            {
                var n = (int)Math.Min(pad, zeros.Length);
                Bytes(zeros[..n]);
                pad -= n;
            }
        }

        public void Flush() => _out.Flush();
    }
}
