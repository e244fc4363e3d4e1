using System.Collections.ObjectModel;
using System.Globalization;

namespace Ferrum.Gguf;

/// <summary>
/// One GGUF metadata value: a scalar of one of the 12 scalar types, or an array (of scalars, strings, or nested arrays).
/// Immutable. Typed accessors throw <see cref="GgufException"/> naming the actual and the requested type.
/// </summary>
public sealed class GgufValue : IEquatable<GgufValue>
{
    // Scalars are boxed CLR values (byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long, double);
    // arrays are a CLR array of the element type (GgufValue[] for nested arrays).
    private readonly object _value;

    private GgufValue(GgufValueType type, GgufValueType elementType, object value)
    {
        Type = type;
        _elementType = elementType;
        _value = value;
    }

    private readonly GgufValueType _elementType;

    /// <summary>The value's type; <see cref="GgufValueType.Array"/> for arrays.</summary>
    public GgufValueType Type { get; }

    /// <summary>True when this is an array.</summary>
    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>The element type of an array; throws for scalars.</summary>
    public GgufValueType ElementType =>
        IsArray ? _elementType : throw new GgufException($"value of type {Type.ShortName()} is not an array");

    /// <summary>Number of elements of an array; 1 for a scalar.</summary>
    public int Count => IsArray ? ((Array)_value).Length : 1;

    /// <summary>The raw value: a boxed scalar, a string, or for arrays a read-only list of the elements.</summary>
    public object Value => IsArray ? ArrayAsList() : _value;

    /// <summary>The scalar's type name or "arr[elem]" for an array (ggml's names).</summary>
    public string TypeName => IsArray ? $"arr[{_elementType.ShortName()}]" : Type.ShortName();

    public byte AsUInt8() => Scalar<byte>(GgufValueType.UInt8);

    public sbyte AsInt8() => Scalar<sbyte>(GgufValueType.Int8);

    public ushort AsUInt16() => Scalar<ushort>(GgufValueType.UInt16);

    public short AsInt16() => Scalar<short>(GgufValueType.Int16);

    public uint AsUInt32() => Scalar<uint>(GgufValueType.UInt32);

    public int AsInt32() => Scalar<int>(GgufValueType.Int32);

    public ulong AsUInt64() => Scalar<ulong>(GgufValueType.UInt64);

    public long AsInt64() => Scalar<long>(GgufValueType.Int64);

    public float AsFloat32() => Scalar<float>(GgufValueType.Float32);

    public double AsFloat64() => Scalar<double>(GgufValueType.Float64);

    public bool AsBool() => Scalar<bool>(GgufValueType.Bool);

    public string AsString() => Scalar<string>(GgufValueType.String);

    /// <summary>Any integer scalar (u8..i64) as a signed 64-bit value; false for other types or a u64 above long.MaxValue.</summary>
    public bool TryGetInteger(out long value)
    {
        switch (_value)
        {
            case byte v when !IsArray: value = v; return true;
            case sbyte v when !IsArray: value = v; return true;
            case ushort v when !IsArray: value = v; return true;
            case short v when !IsArray: value = v; return true;
            case uint v when !IsArray: value = v; return true;
            case int v when !IsArray: value = v; return true;
            case long v when !IsArray: value = v; return true;
            case ulong v when !IsArray && v <= long.MaxValue: value = (long)v; return true;
            default: value = 0; return false;
        }
    }

    /// <summary>True when this is an integer scalar of any width or signedness.</summary>
    public bool IsInteger => !IsArray && Type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16
        or GgufValueType.Int16 or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    /// <summary>
    /// The elements of an array whose element type matches <typeparamref name="T"/> (byte for u8, string for str,
    /// <see cref="GgufValue"/> for nested arrays, ...). No copy.
    /// </summary>
    public IReadOnlyList<T> AsArray<T>()
    {
        if (!IsArray)
        {
            throw new GgufException($"value has type {Type.ShortName()}, expected an array of {ClrTypeName(typeof(T))}");
        }

        // Exact type check: the CLR lets a uint[] pass as int[] (and sbyte[] as byte[]).
        if (_value.GetType() == typeof(T[]))
        {
            return new ReadOnlyCollection<T>((T[])_value);
        }

        throw new GgufException($"value has type {TypeName}, expected an array of {ClrTypeName(typeof(T))}");
    }

    /// <summary>
    /// The value as <typeparamref name="T"/>: a scalar CLR type matching the GGUF type exactly, string, a CLR array of
    /// the element type (a copy), or <see cref="GgufValue"/> itself.
    /// </summary>
    public T As<T>()
    {
        if (typeof(T) == typeof(GgufValue))
        {
            return (T)(object)this;
        }

        if (typeof(T).IsArray)
        {
            if (IsArray && _value.GetType() == typeof(T))
            {
                return (T)((Array)_value).Clone();
            }

            throw new GgufException($"value has type {TypeName}, expected an array of {ClrTypeName(typeof(T).GetElementType()!)}");
        }

        if (!IsArray && _value is T v)
        {
            return v;
        }

        throw new GgufException($"value has type {TypeName}, expected {ClrTypeName(typeof(T))}");
    }

    private T Scalar<T>(GgufValueType expected)
    {
        if (Type == expected)
        {
            return (T)_value;
        }

        throw new GgufException($"value has type {TypeName}, expected {expected.ShortName()}");
    }

    // Switch on the element type, not with type patterns: the CLR lets an sbyte[] match byte[] (and int[]/uint[] etc.).
    private object ArrayAsList() => _elementType switch
    {
        GgufValueType.UInt8 => new ReadOnlyCollection<byte>((byte[])_value),
        GgufValueType.Int8 => new ReadOnlyCollection<sbyte>((sbyte[])_value),
        GgufValueType.UInt16 => new ReadOnlyCollection<ushort>((ushort[])_value),
        GgufValueType.Int16 => new ReadOnlyCollection<short>((short[])_value),
        GgufValueType.UInt32 => new ReadOnlyCollection<uint>((uint[])_value),
        GgufValueType.Int32 => new ReadOnlyCollection<int>((int[])_value),
        GgufValueType.Float32 => new ReadOnlyCollection<float>((float[])_value),
        GgufValueType.Bool => new ReadOnlyCollection<bool>((bool[])_value),
        GgufValueType.String => new ReadOnlyCollection<string>((string[])_value),
        GgufValueType.UInt64 => new ReadOnlyCollection<ulong>((ulong[])_value),
        GgufValueType.Int64 => new ReadOnlyCollection<long>((long[])_value),
        GgufValueType.Float64 => new ReadOnlyCollection<double>((double[])_value),
        _ => new ReadOnlyCollection<GgufValue>((GgufValue[])_value),
    };

    /// <summary>The underlying CLR array of an array value (not copied); internal for the writer and JSON output.</summary>
    internal Array RawArray => (Array)_value;

    /// <summary>The boxed scalar (internal: the writer and printers switch on it).</summary>
    internal object RawScalar => _value;

    internal static string ClrTypeName(Type t) =>
        t == typeof(byte) ? "u8" : t == typeof(sbyte) ? "i8" : t == typeof(ushort) ? "u16" : t == typeof(short) ? "i16"
        : t == typeof(uint) ? "u32" : t == typeof(int) ? "i32" : t == typeof(float) ? "f32" : t == typeof(bool) ? "bool"
        : t == typeof(string) ? "str" : t == typeof(ulong) ? "u64" : t == typeof(long) ? "i64" : t == typeof(double) ? "f64"
        : t == typeof(GgufValue) ? "arr" : t.Name;

    public static GgufValue From(byte value) => new(GgufValueType.UInt8, default, value);

    public static GgufValue From(sbyte value) => new(GgufValueType.Int8, default, value);

    public static GgufValue From(ushort value) => new(GgufValueType.UInt16, default, value);

    public static GgufValue From(short value) => new(GgufValueType.Int16, default, value);

    public static GgufValue From(uint value) => new(GgufValueType.UInt32, default, value);

    public static GgufValue From(int value) => new(GgufValueType.Int32, default, value);

    public static GgufValue From(ulong value) => new(GgufValueType.UInt64, default, value);

    public static GgufValue From(long value) => new(GgufValueType.Int64, default, value);

    public static GgufValue From(float value) => new(GgufValueType.Float32, default, value);

    public static GgufValue From(double value) => new(GgufValueType.Float64, default, value);

    public static GgufValue From(bool value) => new(GgufValueType.Bool, default, value);

    public static GgufValue From(string value) =>
        new(GgufValueType.String, default, value ?? throw new ArgumentNullException(nameof(value)));

    public static GgufValue FromArray(byte[] values) => Arr(GgufValueType.UInt8, values);

    public static GgufValue FromArray(sbyte[] values) => Arr(GgufValueType.Int8, values);

    public static GgufValue FromArray(ushort[] values) => Arr(GgufValueType.UInt16, values);

    public static GgufValue FromArray(short[] values) => Arr(GgufValueType.Int16, values);

    public static GgufValue FromArray(uint[] values) => Arr(GgufValueType.UInt32, values);

    public static GgufValue FromArray(int[] values) => Arr(GgufValueType.Int32, values);

    public static GgufValue FromArray(ulong[] values) => Arr(GgufValueType.UInt64, values);

    public static GgufValue FromArray(long[] values) => Arr(GgufValueType.Int64, values);

    public static GgufValue FromArray(float[] values) => Arr(GgufValueType.Float32, values);

    public static GgufValue FromArray(double[] values) => Arr(GgufValueType.Float64, values);

    public static GgufValue FromArray(bool[] values) => Arr(GgufValueType.Bool, values);

    public static GgufValue FromArray(string[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        foreach (var s in values)
        {
            ArgumentNullException.ThrowIfNull(s, nameof(values));
        }

        return Arr(GgufValueType.String, values);
    }

    /// <summary>An array of arrays (allowed by the GGUF spec; ggml itself cannot read nested arrays).</summary>
    public static GgufValue FromArray(GgufValue[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        foreach (var v in values)
        {
            if (v is null || !v.IsArray)
            {
                throw new ArgumentException("every element of a nested array must itself be an array", nameof(values));
            }
        }

        return Arr(GgufValueType.Array, values);
    }

    private static GgufValue Arr(GgufValueType elementType, Array values) =>
        new(GgufValueType.Array, elementType, (Array)(values ?? throw new ArgumentNullException(nameof(values))).Clone());

    /// <summary>Used by the parser: wraps an array it just allocated without copying.</summary>
    internal static GgufValue WrapArray(GgufValueType elementType, Array values) => new(GgufValueType.Array, elementType, values);

    /// <summary>Used by the parser for scalars.</summary>
    internal static GgufValue WrapScalar(GgufValueType type, object value) => new(type, default, value);

    /// <summary>Structural equality: same type, element type and elements (floats compared bitwise).</summary>
    public bool Equals(GgufValue? other)
    {
        if (other is null || other.Type != Type)
        {
            return false;
        }

        if (!IsArray)
        {
            return ScalarEquals(_value, other._value);
        }

        if (other._elementType != _elementType)
        {
            return false;
        }

        var a = (Array)_value;
        var b = (Array)other._value;
        if (a.Length != b.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length; i++)
        {
            var x = a.GetValue(i)!;
            var y = b.GetValue(i)!;
            if (x is GgufValue gx ? !gx.Equals((GgufValue)y) : !ScalarEquals(x, y))
            {
                return false;
            }
        }

        return true;
    }

    private static bool ScalarEquals(object x, object y) => (x, y) switch
    {
        (float a, float b) => BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b),
        (double a, double b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b),
        _ => x.Equals(y),
    };

    public override bool Equals(object? obj) => obj is GgufValue v && Equals(v);

    public override int GetHashCode() => HashCode.Combine(Type, _elementType, Count);

    /// <summary>Readable form; arrays longer than 8 elements are abbreviated.</summary>
    public override string ToString() => Format(8);

    /// <summary>Readable form showing at most <paramref name="maxElements"/> array elements.</summary>
    public string Format(int maxElements)
    {
        if (!IsArray)
        {
            return FormatScalar(_value);
        }

        var a = (Array)_value;
        var shown = Math.Min(a.Length, Math.Max(0, maxElements));
        var parts = new List<string>(shown + 1);
        for (var i = 0; i < shown; i++)
        {
            var e = a.GetValue(i)!;
            parts.Add(e is GgufValue g ? g.Format(maxElements) : FormatScalar(e));
        }

        if (shown < a.Length)
        {
            parts.Add($"... ({a.Length} {_elementType.ShortName()} in all)");
        }

        return "[" + string.Join(", ", parts) + "]";
    }

    internal static string FormatScalar(object v) => v switch
    {
        string s => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t") + "\"",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
