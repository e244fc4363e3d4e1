// Linked as source into Ferrum.Generators: see GgmlType.cs.
using System;
using System.Collections.Generic;

namespace Ferrum.Quantization;

/// <summary>
/// Storage facts of one ggml type: elements per block, bytes per block, and the activation type ggml's CPU
/// backend quantizes the other operand to before an integer dot product (type_traits_cpu.vec_dot_type).
/// </summary>
public sealed class GgmlTypeInfo
{
    private GgmlTypeInfo(GgmlType type, string name, int blockSize, int typeSize, GgmlType activationType)
    {
        Type = type;
        Name = name;
        BlockSize = blockSize;
        TypeSize = typeSize;
        ActivationType = activationType;
    }

    /// <summary>The ggml type id.</summary>
    public GgmlType Type { get; }

    /// <summary>ggml's name of the type (ggml_type_name), e.g. "q4_K".</summary>
    public string Name { get; }

    /// <summary>Elements per block (ggml_blck_size).</summary>
    public int BlockSize { get; }

    /// <summary>Bytes per block (ggml_type_size).</summary>
    public int TypeSize { get; }

    /// <summary>Type the activations are quantized to for the integer dot product (vec_dot_type).</summary>
    public GgmlType ActivationType { get; }

    /// <summary>Bytes of one row of <paramref name="elements"/> elements; the caller checks divisibility.</summary>
    public long RowBytes(long elements) => elements / BlockSize * TypeSize;

    public override string ToString() => Name;

    private static readonly GgmlTypeInfo[] Table =
    {
        new(GgmlType.F32, "f32", 1, 4, GgmlType.F32),
        new(GgmlType.F16, "f16", 1, 2, GgmlType.F16),
        new(GgmlType.Q4_0, "q4_0", 32, 18, GgmlType.Q8_0),
        new(GgmlType.Q4_1, "q4_1", 32, 20, GgmlType.Q8_1),
        new(GgmlType.Q5_0, "q5_0", 32, 22, GgmlType.Q8_0),
        new(GgmlType.Q5_1, "q5_1", 32, 24, GgmlType.Q8_1),
        new(GgmlType.Q8_0, "q8_0", 32, 34, GgmlType.Q8_0),
        new(GgmlType.Q8_1, "q8_1", 32, 36, GgmlType.Q8_1),
        new(GgmlType.Q2_K, "q2_K", 256, 84, GgmlType.Q8_K),
        new(GgmlType.Q3_K, "q3_K", 256, 110, GgmlType.Q8_K),
        new(GgmlType.Q4_K, "q4_K", 256, 144, GgmlType.Q8_K),
        new(GgmlType.Q5_K, "q5_K", 256, 176, GgmlType.Q8_K),
        new(GgmlType.Q6_K, "q6_K", 256, 210, GgmlType.Q8_K),
        new(GgmlType.Q8_K, "q8_K", 256, 292, GgmlType.Q8_K),
        new(GgmlType.IQ2_XXS, "iq2_xxs", 256, 66, GgmlType.Q8_K),
        new(GgmlType.IQ2_XS, "iq2_xs", 256, 74, GgmlType.Q8_K),
        new(GgmlType.IQ3_XXS, "iq3_xxs", 256, 98, GgmlType.Q8_K),
        new(GgmlType.IQ1_S, "iq1_s", 256, 50, GgmlType.Q8_K),
        new(GgmlType.IQ4_NL, "iq4_nl", 32, 18, GgmlType.Q8_0),
        new(GgmlType.IQ3_S, "iq3_s", 256, 110, GgmlType.Q8_K),
        new(GgmlType.IQ2_S, "iq2_s", 256, 82, GgmlType.Q8_K),
        new(GgmlType.IQ4_XS, "iq4_xs", 256, 136, GgmlType.Q8_K),
        new(GgmlType.I8, "i8", 1, 1, GgmlType.I8),
        new(GgmlType.I16, "i16", 1, 2, GgmlType.I16),
        new(GgmlType.I32, "i32", 1, 4, GgmlType.I32),
        new(GgmlType.I64, "i64", 1, 8, GgmlType.I64),
        new(GgmlType.F64, "f64", 1, 8, GgmlType.F64),
        new(GgmlType.IQ1_M, "iq1_m", 256, 56, GgmlType.Q8_K),
        new(GgmlType.BF16, "bf16", 1, 2, GgmlType.BF16),
        new(GgmlType.TQ1_0, "tq1_0", 256, 54, GgmlType.Q8_K),
        new(GgmlType.TQ2_0, "tq2_0", 256, 66, GgmlType.Q8_K),
        new(GgmlType.MXFP4, "mxfp4", 32, 17, GgmlType.Q8_0),
    };

    private static readonly Dictionary<uint, GgmlTypeInfo> ById = BuildById();
    private static readonly Dictionary<string, GgmlTypeInfo> ByName = BuildByName();

    /// <summary>Every type this table knows, in id order.</summary>
    public static IReadOnlyList<GgmlTypeInfo> All => Table;

    /// <summary>Looks a type up by id; false for ids this table does not know.</summary>
    public static bool TryGet(uint id, out GgmlTypeInfo info)
    {
        if (ById.TryGetValue(id, out var found))
        {
            info = found;
            return true;
        }

        info = null!;
        return false;
    }

    /// <summary>Info of a known type.</summary>
    public static GgmlTypeInfo Get(GgmlType type) =>
        TryGet((uint)type, out var info) ? info : throw new ArgumentOutOfRangeException(nameof(type), $"unknown ggml type id {(uint)type}");

    /// <summary>Looks a type up by ggml name, case-insensitively ("Q4_K" and "q4_K" are the same).</summary>
    public static bool TryParse(string name, out GgmlTypeInfo info)
    {
        if (name is not null && ByName.TryGetValue(name, out var found))
        {
            info = found;
            return true;
        }

        info = null!;
        return false;
    }

    private static Dictionary<uint, GgmlTypeInfo> BuildById()
    {
        var map = new Dictionary<uint, GgmlTypeInfo>();
        foreach (var t in Table)
        {
            map.Add((uint)t.Type, t);
        }

        return map;
    }

    private static Dictionary<string, GgmlTypeInfo> BuildByName()
    {
        var map = new Dictionary<string, GgmlTypeInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (var t in Table)
        {
            map.Add(t.Name, t);
        }

        return map;
    }
}
