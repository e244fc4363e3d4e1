using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Ferrum.Quantization;

namespace Ferrum.Gguf;

/// <summary>What the parser found in a GGUF header; tensor data is never read.</summary>
internal sealed class GgufHeader
{
    public required int Version { get; init; }

    public required int Alignment { get; init; }

    public required long DataOffset { get; init; }

    public required List<GgufKeyValue> Entries { get; init; }

    public required Dictionary<string, GgufKeyValue> EntriesByKey { get; init; }

    public required List<GgufTensorInfo> Tensors { get; init; }

    public required Dictionary<string, GgufTensorInfo> TensorsByName { get; init; }
}

/// <summary>
/// Parses a GGUF header from memory with a bounds-checked cursor: every read first checks the bytes left, every
/// count is checked against the bytes it needs before anything is allocated, and all size arithmetic is checked.
/// Any inconsistency becomes a <see cref="GgufFormatException"/> naming the field and its absolute offset.
/// </summary>
internal sealed unsafe class GgufParser
{
    /// <summary>"GGUF" read as a little-endian u32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>ggml's GGML_MAX_NAME is 64 including the terminating NUL.</summary>
    public const int MaxTensorNameBytes = 63;

    /// <summary>ggml's GGUF_MAX_STRING_LENGTH and GGUF_MAX_ARRAY_ELEMENTS.</summary>
    public const long MaxStringBytes = 1L << 30;

    public const long MaxArrayElements = 1L << 30;

    /// <summary>Nested arrays deeper than this are refused (keeps recursion bounded).</summary>
    public const int MaxArrayDepth = 16;

    public const int DefaultAlignment = 32;

    // key: u64 length + at least 1 byte (empty keys are refused) + u32 type + at least a 1-byte value.
    private const long MinKvBytes = 8 + 1 + 4 + 1;

    // name: u64 length + u32 n_dims + at least one u64 ne + u32 type + u64 offset.
    private const long MinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly byte* _base;
    private readonly long _length;
    private readonly string _source;
    private long _pos;

    private GgufParser(byte* data, long length, string source)
    {
        _base = data;
        _length = length;
        _source = source;
    }

    private long Remaining => _length - _pos;

    public static GgufHeader Parse(byte* data, long length, string source)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("the GGUF reader needs a little-endian host");
        }

        return new GgufParser(data, length, source).ParseHeader();
    }

    private GgufHeader ParseHeader()
    {
        if (_length == 0)
        {
            throw Fail(0, "the file is empty (0 bytes)");
        }

        if (_length < 4)
        {
            throw Fail(0, $"the file is only {_length} bytes, too short for the GGUF magic");
        }

        var magic = ReadU32("magic");
        if (magic != Magic)
        {
            throw Fail(0, $"bad magic {FormatMagic(magic)}, expected \"GGUF\" (47 47 55 46)");
        }

        var version = ReadU32("version");
        if (version != 0 && (version & 0xFFFF) == 0)
        {
            throw Fail(4, $"version field reads {version} (0x{version:X8}): the file is byte-swapped (big-endian); only little-endian GGUF is supported");
        }

        if (version == 1)
        {
            throw Fail(4, "GGUF version 1 is not supported (its counts are 32-bit; convert the file to v3)");
        }

        if (version is not (2 or 3))
        {
            throw Fail(4, $"unsupported GGUF version {version} (supported: 2 and 3)");
        }

        var tensorCountAt = _pos;
        var nTensors = ReadU64("tensor count");
        var kvCountAt = _pos;
        var nKv = ReadU64("metadata count");

        // Counts are checked against the bytes left before any list is sized from them (and against int range,
        // which only matters for files of tens of GiB).
        if (nKv > int.MaxValue)
        {
            throw Fail(kvCountAt, $"metadata count {nKv} is more than {int.MaxValue} entries");
        }

        if (nTensors > int.MaxValue)
        {
            throw Fail(tensorCountAt, $"tensor count {nTensors} is more than {int.MaxValue} tensors");
        }

        if (nKv > (ulong)(Remaining / MinKvBytes))
        {
            throw Fail(kvCountAt, $"metadata count {nKv} cannot fit in the {Remaining} bytes left (each entry needs at least {MinKvBytes} bytes)");
        }

        var kvMin = (long)nKv * MinKvBytes;
        if (nTensors > (ulong)((Remaining - kvMin) / MinTensorInfoBytes))
        {
            throw Fail(tensorCountAt, $"tensor count {nTensors} cannot fit in the {Remaining} bytes left after the header (each tensor info needs at least {MinTensorInfoBytes} bytes, the metadata at least {kvMin})");
        }

        var entries = new List<GgufKeyValue>((int)nKv);
        var byKey = new Dictionary<string, GgufKeyValue>((int)nKv, StringComparer.Ordinal);
        for (var i = 0L; i < (long)nKv; i++)
        {
            var at = _pos;
            var key = ReadString($"key of metadata entry {i}");
            if (key.Length == 0)
            {
                throw Fail(at, $"metadata entry {i} has an empty key");
            }

            if (byKey.TryGetValue(key, out var first))
            {
                throw Fail(at, $"duplicate metadata key '{key}' (first at byte {first.ByteOffset})");
            }

            var typeAt = _pos;
            var type = (GgufValueType)ReadU32($"type of metadata key '{key}'");
            var value = ReadValue(type, typeAt, $"metadata key '{key}'", 0);
            var kv = new GgufKeyValue(key, value, at);
            entries.Add(kv);
            byKey.Add(key, kv);
        }

        var alignment = DefaultAlignment;
        if (byKey.TryGetValue("general.alignment", out var alignKv))
        {
            if (alignKv.Value.Type != GgufValueType.UInt32)
            {
                throw Fail(alignKv.ByteOffset, $"general.alignment must be u32 but is {alignKv.Value.TypeName}");
            }

            var a = alignKv.Value.AsUInt32();
            if (a == 0 || (a & (a - 1)) != 0 || a > 1u << 30)
            {
                throw Fail(alignKv.ByteOffset, $"general.alignment {a} is not a power of two in [1, 2^30]");
            }

            alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>((int)nTensors);
        var byName = new Dictionary<string, GgufTensorInfo>((int)nTensors, StringComparer.Ordinal);
        var offsets = new (ulong Offset, long At)[nTensors];
        for (var i = 0; i < (int)nTensors; i++)
        {
            var info = ReadTensorInfo(i, byName, out offsets[i].Offset, out offsets[i].At);
            tensors.Add(info);
            byName.Add(info.Name, info);
        }

        var dataOffset = _pos;
        if (nTensors > 0)
        {
            dataOffset = checked(_pos + (alignment - 1)) / alignment * alignment;
            if (dataOffset > _length)
            {
                throw Fail(_pos, $"the data section would start at byte {dataOffset} (tensor infos end at {_pos}, aligned to {alignment}), past the end of the {_length}-byte file");
            }
        }

        var dataLength = _length - dataOffset;
        var placed = new List<GgufTensorInfo>(tensors.Count);
        for (var i = 0; i < tensors.Count; i++)
        {
            var (offset, at) = offsets[i];
            var t = tensors[i];
            if (offset % (ulong)alignment != 0)
            {
                throw Fail(at, $"tensor '{t.Name}' offset {offset} is not a multiple of the alignment {alignment}");
            }

            if (offset > (ulong)dataLength || (ulong)t.ByteSize > (ulong)dataLength - offset)
            {
                throw Fail(at, $"tensor '{t.Name}' data [{offset}, {offset}+{t.ByteSize}) runs past the end of the data section ({dataLength} bytes from byte {dataOffset})");
            }

            t.Offset = (long)offset;
            if (t.ByteSize > 0)
            {
                placed.Add(t);
            }
        }

        placed.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        for (var i = 1; i < placed.Count; i++)
        {
            var prev = placed[i - 1];
            var cur = placed[i];
            if (cur.Offset < prev.Offset + prev.ByteSize)
            {
                throw Fail(offsets[cur.Index].At, $"tensor '{cur.Name}' data [{cur.Offset}, {cur.Offset + cur.ByteSize}) overlaps tensor '{prev.Name}' [{prev.Offset}, {prev.Offset + prev.ByteSize})");
            }
        }

        return new GgufHeader
        {
            Version = (int)version,
            Alignment = alignment,
            DataOffset = dataOffset,
            Entries = entries,
            EntriesByKey = byKey,
            Tensors = tensors,
            TensorsByName = byName,
        };
    }

    private GgufTensorInfo ReadTensorInfo(int index, Dictionary<string, GgufTensorInfo> byName, out ulong offset, out long offsetAt)
    {
        var at = _pos;
        var nameBytes = PeekStringLength($"name of tensor {index}");
        var name = ReadString($"name of tensor {index}");
        if (nameBytes > MaxTensorNameBytes)
        {
            throw Fail(at, $"tensor {index} name is {nameBytes} bytes; ggml allows at most {MaxTensorNameBytes} (GGML_MAX_NAME 64 with NUL)");
        }

        if (byName.TryGetValue(name, out var first))
        {
            throw Fail(at, $"duplicate tensor name '{name}' (tensors {first.Index} and {index})");
        }

        var dimsAt = _pos;
        var nDims = ReadU32($"dimension count of tensor '{name}'");
        if (nDims is 0 or > 4)
        {
            throw Fail(dimsAt, $"tensor '{name}' has {nDims} dimensions; ggml supports 1 to 4");
        }

        var shape = new long[nDims];
        for (var d = 0; d < nDims; d++)
        {
            var neAt = _pos;
            var ne = ReadU64($"ne[{d}] of tensor '{name}'");
            if (ne > long.MaxValue)
            {
                throw Fail(neAt, $"tensor '{name}' ne[{d}] = {ne} is negative as ggml's int64");
            }

            shape[d] = (long)ne;
        }

        var elements = 1L;
        if (Array.IndexOf(shape, 0L) >= 0)
        {
            elements = 0;
        }
        else
        {
            foreach (var ne in shape)
            {
                if (ne > long.MaxValue / elements)
                {
                    throw Fail(dimsAt, $"tensor '{name}' shape [{string.Join(", ", shape)}] has more elements than fit in int64");
                }

                elements *= ne;
            }
        }

        var typeAt = _pos;
        var typeId = ReadU32($"type of tensor '{name}'");
        if (!GgmlTypeInfo.TryGet(typeId, out var typeInfo))
        {
            throw Fail(typeAt, $"tensor '{name}' has unknown ggml type id {typeId}");
        }

        if (shape[0] % typeInfo.BlockSize != 0)
        {
            throw Fail(dimsAt, $"tensor '{name}' of type {typeInfo.Name} has ne[0] = {shape[0]}, not a multiple of the block size {typeInfo.BlockSize}");
        }

        var blocks = elements / typeInfo.BlockSize;
        if (blocks > long.MaxValue / typeInfo.TypeSize)
        {
            throw Fail(dimsAt, $"tensor '{name}' shape [{string.Join(", ", shape)}] of type {typeInfo.Name} has a byte size that overflows int64");
        }

        offsetAt = _pos;
        offset = ReadU64($"data offset of tensor '{name}'");
        return new GgufTensorInfo(index, name, typeInfo, shape, 0, blocks * typeInfo.TypeSize, elements, at);
    }

    private GgufValue ReadValue(GgufValueType type, long typeAt, string what, int depth)
    {
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.From(ReadBytes(1, what)[0]);
            case GgufValueType.Int8: return GgufValue.From((sbyte)ReadBytes(1, what)[0]);
            case GgufValueType.UInt16: return GgufValue.From(BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, what)));
            case GgufValueType.Int16: return GgufValue.From(BinaryPrimitives.ReadInt16LittleEndian(ReadBytes(2, what)));
            case GgufValueType.UInt32: return GgufValue.From(ReadU32(what));
            case GgufValueType.Int32: return GgufValue.From(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4, what)));
            case GgufValueType.Float32: return GgufValue.From(BinaryPrimitives.ReadSingleLittleEndian(ReadBytes(4, what)));
            case GgufValueType.Bool: return GgufValue.From(ReadBytes(1, what)[0] != 0); // ggml: any non-zero byte is true
            case GgufValueType.String: return GgufValue.From(ReadString(what));
            case GgufValueType.UInt64: return GgufValue.From(ReadU64(what));
            case GgufValueType.Int64: return GgufValue.From(BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8, what)));
            case GgufValueType.Float64: return GgufValue.From(BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8, what)));
            case GgufValueType.Array: return ReadArray(what, depth);
            default: throw Fail(typeAt, $"{what} has unknown value type {(uint)type}");
        }
    }

    private GgufValue ReadArray(string what, int depth)
    {
        if (depth >= MaxArrayDepth)
        {
            throw Fail(_pos, $"{what}: arrays nested more than {MaxArrayDepth} deep");
        }

        var elemAt = _pos;
        var elem = (GgufValueType)ReadU32($"element type of {what}");
        if (!GgufValueTypes.IsDefined(elem))
        {
            throw Fail(elemAt, $"{what} is an array of unknown value type {(uint)elem}");
        }

        var countAt = _pos;
        var count = ReadU64($"element count of {what}");
        var min = GgufValueTypes.MinEncodedSize(elem);
        if (count > (ulong)MaxArrayElements)
        {
            throw Fail(countAt, $"{what} has {count} elements, more than the {MaxArrayElements} ggml allows");
        }

        if (count > (ulong)(Remaining / min))
        {
            throw Fail(countAt, $"{what}: {count} {elem.ShortName()} elements need at least {(long)count * min} bytes but only {Remaining} are left");
        }

        var n = (int)count;
        switch (elem)
        {
            case GgufValueType.UInt8: return GgufValue.WrapArray(elem, ReadBytes(n, what).ToArray());
            case GgufValueType.Int8: return GgufValue.WrapArray(elem, Prim<sbyte>(n, what));
            case GgufValueType.UInt16: return GgufValue.WrapArray(elem, Prim<ushort>(n, what));
            case GgufValueType.Int16: return GgufValue.WrapArray(elem, Prim<short>(n, what));
            case GgufValueType.UInt32: return GgufValue.WrapArray(elem, Prim<uint>(n, what));
            case GgufValueType.Int32: return GgufValue.WrapArray(elem, Prim<int>(n, what));
            case GgufValueType.Float32: return GgufValue.WrapArray(elem, Prim<float>(n, what));
            case GgufValueType.UInt64: return GgufValue.WrapArray(elem, Prim<ulong>(n, what));
            case GgufValueType.Int64: return GgufValue.WrapArray(elem, Prim<long>(n, what));
            case GgufValueType.Float64: return GgufValue.WrapArray(elem, Prim<double>(n, what));
            case GgufValueType.Bool:
                {
                    var raw = ReadBytes(n, what);
                    var bools = new bool[n];
                    for (var i = 0; i < n; i++)
                    {
                        bools[i] = raw[i] != 0;
                    }

                    return GgufValue.WrapArray(elem, bools);
                }

            case GgufValueType.String:
                {
                    var strings = new string[n];
                    for (var i = 0; i < n; i++)
                    {
                        strings[i] = ReadString($"{what}[{i}]");
                    }

                    return GgufValue.WrapArray(elem, strings);
                }

            default:
                {
                    var items = new GgufValue[n];
                    for (var i = 0; i < n; i++)
                    {
                        items[i] = ReadArray($"{what}[{i}]", depth + 1);
                    }

                    return GgufValue.WrapArray(elem, items);
                }
        }
    }

    private T[] Prim<T>(int n, string what)
        where T : unmanaged
    {
        var bytes = ReadBytes(checked(n * sizeof(T)), what);
        var result = new T[n];
        bytes.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }

    private ReadOnlySpan<byte> ReadBytes(int count, string what)
    {
        if (count < 0 || count > Remaining)
        {
            throw Fail(_pos, $"{what} needs {count} bytes but the file ends {Remaining} bytes after this point");
        }

        var span = new ReadOnlySpan<byte>(_base + _pos, count);
        _pos += count;
        return span;
    }

    private uint ReadU32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, what));

    private ulong ReadU64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8, what));

    private ulong PeekStringLength(string what)
    {
        var save = _pos;
        var n = ReadU64(what);
        _pos = save;
        return n;
    }

    private string ReadString(string what)
    {
        var at = _pos;
        var n = ReadU64($"length of {what}");
        if (n > (ulong)MaxStringBytes)
        {
            throw Fail(at, $"{what} has length {n}, more than the {MaxStringBytes} bytes ggml allows");
        }

        if (n > (ulong)Remaining)
        {
            throw Fail(at, $"{what} has length {n} but only {Remaining} bytes are left in the file");
        }

        var bytes = ReadBytes((int)n, what);
        return Utf8.GetString(bytes);
    }

    private GgufFormatException Fail(long at, string problem) => new(_source, at, problem);

    private static string FormatMagic(uint magic)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, magic);
        var chars = new char[4];
        for (var i = 0; i < 4; i++)
        {
            chars[i] = b[i] is >= 0x20 and < 0x7F ? (char)b[i] : '?';
        }

        return $"\"{new string(chars)}\" ({b[0]:X2} {b[1]:X2} {b[2]:X2} {b[3]:X2})";
    }
}
