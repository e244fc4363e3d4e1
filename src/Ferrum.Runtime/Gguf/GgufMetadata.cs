using System.Collections;

namespace Ferrum.Gguf;

/// <summary>
/// The metadata of a GGUF file: key/value pairs in file order plus lookup by key. Typed getters throw
/// <see cref="GgufException"/> with the key, the file and the actual type when a key is missing or has another type.
/// </summary>
public sealed class GgufMetadata : IReadOnlyList<GgufKeyValue>
{
    private readonly List<GgufKeyValue> _entries;
    private readonly Dictionary<string, GgufKeyValue> _byKey;
    private readonly string _source;

    internal GgufMetadata(List<GgufKeyValue> entries, Dictionary<string, GgufKeyValue> byKey, string source)
    {
        _entries = entries;
        _byKey = byKey;
        _source = source;
    }

    public int Count => _entries.Count;

    public GgufKeyValue this[int index] => _entries[index];

    /// <summary>The value of <paramref name="key"/>; <see cref="GgufException"/> when missing.</summary>
    public GgufValue this[string key] => Find(key).Value;

    public IEnumerable<string> Keys => _entries.Select(e => e.Key);

    public bool Contains(string key) => _byKey.ContainsKey(key);

    public bool TryGetValue(string key, out GgufValue value)
    {
        if (_byKey.TryGetValue(key, out var kv))
        {
            value = kv.Value;
            return true;
        }

        value = null!;
        return false;
    }

    /// <summary>
    /// The value as <typeparamref name="T"/>, matching the stored type exactly (byte=u8, sbyte=i8, ushort=u16, short=i16,
    /// uint=u32, int=i32, float=f32, bool, string, ulong=u64, long=i64, double=f64, T[] for arrays, GgufValue for any).
    /// </summary>
    public T Get<T>(string key) => Wrap(key, v => v.As<T>());

    /// <summary>False when the key is missing; <see cref="GgufException"/> when it exists with another type.</summary>
    public bool TryGet<T>(string key, out T value)
    {
        if (!_byKey.TryGetValue(key, out var kv))
        {
            value = default!;
            return false;
        }

        value = Wrap(key, _ => kv.Value.As<T>());
        return true;
    }

    public string GetString(string key) => Wrap(key, v => v.AsString());

    public bool GetBool(string key) => Wrap(key, v => v.AsBool());

    public float GetFloat32(string key) => Wrap(key, v => v.AsFloat32());

    public double GetFloat64(string key) => Wrap(key, v => v.AsFloat64());

    /// <summary>Any integer type whose value fits in a signed 64-bit integer.</summary>
    public long GetInt64(string key) => Wrap(key, v => v.TryGetInteger(out var x)
        ? x
        : throw new GgufException($"value has type {v.TypeName}{(v.IsInteger ? $" and value {v}" : "")}, expected an integer that fits i64"));

    /// <summary>Any integer type whose value fits in an unsigned 32-bit integer.</summary>
    public uint GetUInt32(string key) => (uint)GetIntegerInRange(key, 0, uint.MaxValue, "u32");

    /// <summary>Any integer type whose value fits in a signed 32-bit integer.</summary>
    public int GetInt32(string key) => (int)GetIntegerInRange(key, int.MinValue, int.MaxValue, "i32");

    /// <summary>The elements of an array key whose element type matches <typeparamref name="T"/>.</summary>
    public IReadOnlyList<T> GetArray<T>(string key) => Wrap(key, v => v.AsArray<T>());

    public IEnumerator<GgufKeyValue> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private long GetIntegerInRange(string key, long min, long max, string what) => Wrap(key, v =>
    {
        if (v.TryGetInteger(out var x) && x >= min && x <= max)
        {
            return x;
        }

        throw new GgufException(v.IsInteger
            ? $"value {v} does not fit {what}"
            : $"value has type {v.TypeName}, expected an integer that fits {what}");
    });

    private GgufKeyValue Find(string key) =>
        _byKey.TryGetValue(key, out var kv) ? kv : throw new GgufException($"metadata key '{key}' not found in {_source}");

    private T Wrap<T>(string key, Func<GgufValue, T> read)
    {
        var kv = Find(key);
        try
        {
            return read(kv.Value);
        }
        catch (GgufException e) when (e is not GgufFormatException)
        {
            throw new GgufException($"metadata key '{key}' in {_source}: {e.Message}", e);
        }
    }
}
