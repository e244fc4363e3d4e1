namespace Ferrum.Gguf;

/// <summary>Metadata value types as stored in GGUF (gguf.h, enum gguf_type).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
}

/// <summary>Names and sizes of <see cref="GgufValueType"/>.</summary>
public static class GgufValueTypes
{
    private static readonly string[] Names = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"];
    private static readonly int[] Sizes = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

    /// <summary>ggml's short name of the type (gguf_type_name): u8 i8 u16 i16 u32 i32 f32 bool str arr u64 i64 f64.</summary>
    public static string ShortName(this GgufValueType type) =>
        (uint)type < Names.Length ? Names[(int)type] : $"type#{(uint)type}";

    /// <summary>True for the 13 ids GGUF defines.</summary>
    public static bool IsDefined(GgufValueType type) => (uint)type < Names.Length;

    /// <summary>Encoded size of a fixed-size scalar; 0 for strings and arrays.</summary>
    public static int FixedSize(this GgufValueType type) => (uint)type < Sizes.Length ? Sizes[(int)type] : 0;

    /// <summary>Fewest bytes an encoded element of this type can take (string: its u64 length; array: type + count).</summary>
    internal static int MinEncodedSize(GgufValueType type) => type switch
    {
        GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => type.FixedSize(),
    };
}
