using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>Sample files for the tests, built from values the tests know independently of any reader.</summary>
internal static class GgufSamples
{
    /// <summary>One key of every scalar type and one array of every element type (ggml can read all of them).</summary>
    public static List<(string Key, GgufValue Value)> AllTypesMetadata() =>
    [
        ("general.architecture", GgufValue.From("qwen3moe")),
        ("t.u8", GgufValue.From((byte)250)),
        ("t.i8", GgufValue.From((sbyte)-120)),
        ("t.u16", GgufValue.From((ushort)65000)),
        ("t.i16", GgufValue.From((short)-32000)),
        ("t.u32", GgufValue.From(4_000_000_000u)),
        ("t.i32", GgufValue.From(-2_000_000_000)),
        ("t.f32", GgufValue.From(0.1f)),
        ("t.bool", GgufValue.From(true)),
        ("t.str", GgufValue.From("héllo, wörld ✓ \"quoted\"")),
        ("t.u64", GgufValue.From(18_000_000_000_000_000_000UL)),
        ("t.i64", GgufValue.From(-9_000_000_000_000_000_000L)),
        ("t.f64", GgufValue.From(Math.PI)),
        ("t.empty_str", GgufValue.From("")),
        ("a.u8", GgufValue.FromArray(new byte[] { 0, 1, 255 })),
        ("a.i8", GgufValue.FromArray(new sbyte[] { -128, 0, 127 })),
        ("a.u16", GgufValue.FromArray(new ushort[] { 0, 65535 })),
        ("a.i16", GgufValue.FromArray(new short[] { short.MinValue, short.MaxValue })),
        ("a.u32", GgufValue.FromArray(new uint[] { 1, 2, uint.MaxValue })),
        ("a.i32", GgufValue.FromArray(new[] { int.MinValue, -1, int.MaxValue })),
        ("a.f32", GgufValue.FromArray(new[] { 1.5f, -0f, float.Epsilon, float.MaxValue, float.NaN, float.PositiveInfinity })),
        ("a.bool", GgufValue.FromArray(new[] { true, false, true })),
        ("a.str", GgufValue.FromArray(new[] { "a", "", "漢字", "<0x0A>" })),
        ("a.u64", GgufValue.FromArray(new[] { 0UL, ulong.MaxValue })),
        ("a.i64", GgufValue.FromArray(new[] { long.MinValue, long.MaxValue })),
        ("a.f64", GgufValue.FromArray(new[] { 1e-300, -2.5, double.NegativeInfinity })),
        ("a.empty", GgufValue.FromArray(Array.Empty<uint>())),
        ("tokenizer.ggml.tokens", GgufValue.FromArray(Enumerable.Range(0, 300).Select(i => $"tok{i}").ToArray())),
    ];

    /// <summary>A small tensor of each type in the shared type table, with a shape that fits its block size.</summary>
    public static List<(string Name, GgmlType Type, long[] Shape, byte[] Data)> AllTypesTensors(int seed)
    {
        var rng = new Random(seed);
        var list = new List<(string, GgmlType, long[], byte[])>();
        var i = 0;
        foreach (var info in GgmlTypeInfo.All)
        {
            long[] shape = (i % 4) switch
            {
                0 => [info.BlockSize * 2L],
                1 => [info.BlockSize, 3],
                2 => [info.BlockSize, 2, 3],
                _ => [info.BlockSize * 2L, 1, 2, 2],
            };
            var bytes = shape.Aggregate(1L, (a, b) => a * b) / info.BlockSize * info.TypeSize;
            var data = new byte[bytes];
            rng.NextBytes(data);
            list.Add(($"blk.{i}.{info.Name}.weight", info.Type, shape, data));
            i++;
        }

        return list;
    }

    public static GgufWriter Writer(int seed = 1, int alignment = 32, int version = 3)
    {
        var w = new GgufWriter { Alignment = alignment, Version = version };
        foreach (var (k, v) in AllTypesMetadata())
        {
            w.AddMetadata(k, v);
        }

        foreach (var (name, type, shape, data) in AllTypesTensors(seed))
        {
            w.AddTensor(name, type, shape, data);
        }

        return w;
    }

    /// <summary>A small, varied file for mutation: strings, arrays of strings, a nested array, a few tensors.</summary>
    public static byte[] SmallForMutation(int variant)
    {
        var w = new GgufWriter { Alignment = variant % 2 == 0 ? 32 : 16, Version = variant % 3 == 0 ? 2 : 3 };
        w.AddMetadata("general.architecture", "qwen3moe");
        w.AddMetadata("qwen3moe.expert_count", 4u);
        w.AddMetadata("qwen3moe.expert_used_count", 2u);
        w.AddMetadata("qwen3moe.embedding_length", 32u);
        w.AddMetadata("qwen3moe.block_count", 1u);
        w.AddMetadata("qwen3moe.expert_feed_forward_length", 64u);
        w.AddMetadata("f", 1.25f);
        w.AddMetadata("names", ["x", "yy", "zzz"]);
        w.AddMetadata("nested", GgufValue.FromArray([GgufValue.FromArray(new[] { 1, 2 }), GgufValue.FromArray(["p", "q"])]));
        w.AddMetadata("flags", new[] { true, false });
        var rng = new Random(variant);
        var types = new[] { GgmlType.F32, GgmlType.Q4_K, GgmlType.Q8_0, GgmlType.F16 };
        for (var i = 0; i < 3 + variant % 2; i++)
        {
            var info = GgmlTypeInfo.Get(types[(i + variant) % types.Length]);
            long[] shape = i == 2 ? [info.BlockSize, 2, 2] : [info.BlockSize, 2];
            var data = new byte[shape.Aggregate(1L, (a, b) => a * b) / info.BlockSize * info.TypeSize];
            rng.NextBytes(data);
            w.AddTensor($"blk.0.t{i}", info.Type, shape, data);
        }

        return w.ToArray();
    }

    public static string TempPath(string tag) => Path.Combine(Path.GetTempPath(), $"ferrum-gguf-{tag}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
}

/// <summary>Writes GGUF bytes field by field, including invalid ones, and remembers field offsets.</summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _ms = new();

    public long Position => _ms.Position;

    public RawGguf U8(byte v)
    {
        _ms.WriteByte(v);
        return this;
    }

    public RawGguf U32(uint v) => Raw(BitConverter.GetBytes(v));

    public RawGguf U64(ulong v) => Raw(BitConverter.GetBytes(v));

    public RawGguf Raw(ReadOnlySpan<byte> bytes)
    {
        _ms.Write(bytes);
        return this;
    }

    public RawGguf Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return U64((ulong)b.Length).Raw(b);
    }

    public RawGguf Header(ulong nTensors, ulong nKv, uint version = 3) => U32(0x46554747).U32(version).U64(nTensors).U64(nKv);

    public RawGguf KvU32(string key, uint value) => Str(key).U32((uint)GgufValueType.UInt32).U32(value);

    public RawGguf KvStr(string key, string value) => Str(key).U32((uint)GgufValueType.String).Str(value);

    public RawGguf Tensor(string name, ulong[] ne, uint type, ulong offset)
    {
        Str(name).U32((uint)ne.Length);
        foreach (var n in ne)
        {
            U64(n);
        }

        return U32(type).U64(offset);
    }

    public RawGguf PadTo(int alignment)
    {
        while (_ms.Position % alignment != 0)
        {
            _ms.WriteByte(0);
        }

        return this;
    }

    public RawGguf Zeros(int n) => Raw(new byte[n]);

    public byte[] ToArray() => _ms.ToArray();
}

/// <summary>
/// Native memory whose last byte sits right before an inaccessible guard page (Linux), so any read past the end
/// of the image faults instead of silently reading neighbouring memory.
/// </summary>
internal sealed unsafe class GuardedBuffer : MemoryManager<byte>
{
    private const int ProtNone = 0;
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapPrivate = 2;
    private const int MapAnonymous = 0x20;

    private readonly byte* _mapping;
    private readonly nuint _mappingSize;
    private readonly byte* _data;
    private readonly int _length;

    public GuardedBuffer(int capacity)
    {
        var page = (nuint)Environment.SystemPageSize;
        var dataPages = ((nuint)capacity + page - 1) / page;
        _mappingSize = (dataPages + 1) * page;
        _mapping = (byte*)mmap(null, _mappingSize, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (_mapping == (byte*)-1)
        {
            throw new InvalidOperationException("mmap failed");
        }

        if (mprotect(_mapping + dataPages * page, page, ProtNone) != 0)
        {
            throw new InvalidOperationException("mprotect failed");
        }

        Capacity = (int)(dataPages * page);
        _data = _mapping;
        _length = Capacity;
    }

    public int Capacity { get; }

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Copies <paramref name="image"/> so that it ends exactly at the guard page; returns memory over it.</summary>
    public Memory<byte> Place(ReadOnlySpan<byte> image)
    {
        if (image.Length > Capacity)
        {
            throw new ArgumentException("image larger than the buffer");
        }

        var dest = new Span<byte>(_mapping + Capacity - image.Length, image.Length);
        image.CopyTo(dest);
        return new GuardedBuffer(this, image.Length, atStart: false).Memory;
    }

    /// <summary>
    /// Copies <paramref name="image"/> to the start of the buffer and makes every page from
    /// <paramref name="protectFrom"/> (a multiple of the page size) inaccessible.
    /// </summary>
    public Memory<byte> PlaceAndProtectFrom(ReadOnlySpan<byte> image, int protectFrom)
    {
        image.CopyTo(new Span<byte>(_mapping, Capacity));
        if (protectFrom % Environment.SystemPageSize != 0 || mprotect(_mapping + protectFrom, (nuint)(Capacity - protectFrom), ProtNone) != 0)
        {
            throw new InvalidOperationException("mprotect failed");
        }

        return new GuardedBuffer(this, image.Length, atStart: true).Memory;
    }

    /// <summary>Makes the whole buffer readable again.</summary>
    public void Unprotect()
    {
        if (mprotect(_mapping, (nuint)Capacity, ProtRead | ProtWrite) != 0)
        {
            throw new InvalidOperationException("mprotect failed");
        }
    }

    private GuardedBuffer(GuardedBuffer owner, int length, bool atStart)
    {
        _mapping = null;
        _data = atStart ? owner._mapping : owner._mapping + owner.Capacity - length;
        _length = length;
    }

    public override Span<byte> GetSpan() => new(_data, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_data + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (_mapping != null)
        {
            munmap(_mapping, _mappingSize);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(void* addr, nuint len, int prot);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(void* addr, nuint length);
}
