// Linked as source into Ferrum.Generators (netstandard2.0): see GgmlType.cs. The generator derives the formats
// kernels.yaml accepts and keys its GPU decode descriptions by these rows; the runtime derives its backends' lists.
using System;
using System.Collections.Generic;

namespace Ferrum.Quantization.Formats;

/// <summary>
/// One weight format Ferrum runs, described once (ggml's type_traits in spirit): ggml id and name, block elements
/// and bytes, byte layout, and the activation type its dot product takes. Every "which formats" list is derived
/// from <see cref="All"/>; per-backend facts (CPU kernels, GPU decode descriptions) live in per-backend tables keyed
/// by these rows. See docs/architecture.md, "Adding a format".
/// </summary>
public sealed class FormatRow
{
    private FormatRow(GgmlType type)
    {
        var info = GgmlTypeInfo.Get(type);
        var layout = BlockLayout.Get(type);
        if (info.BlockSize != layout.BlockSize || info.TypeSize != layout.TypeSize || info.ActivationType != layout.ActivationType)
        {
            throw new InvalidOperationException($"{info.Name}: GgmlTypeInfo ({info.BlockSize} elements, {info.TypeSize} bytes, {info.ActivationType}) and BlockLayout ({layout.BlockSize}, {layout.TypeSize}, {layout.ActivationType}) disagree");
        }

        Type = type;
        Name = info.Name;
        BlockElements = info.BlockSize;
        BlockBytes = info.TypeSize;
        Layout = layout;
        Info = info;
        IsFloat = layout.Mapping == BlockValueMapping.Float;
        ActivationType = IsFloat ? GgmlType.F32 : layout.ActivationType;
    }

    /// <summary>The ggml type id.</summary>
    public GgmlType Type { get; }

    /// <summary>ggml's name (ggml_type_name), e.g. "q4_K"; the spelling kernels.yaml uses.</summary>
    public string Name { get; }

    /// <summary>Elements per block (ggml_blck_size).</summary>
    public int BlockElements { get; }

    /// <summary>Bytes per block (ggml_type_size).</summary>
    public int BlockBytes { get; }

    /// <summary>The byte layout: field offsets and sizes, sub-blocks, value mapping, codebook.</summary>
    public BlockLayout Layout { get; }

    /// <summary>The ggml type facts (the same numbers as this row).</summary>
    public GgmlTypeInfo Info { get; }

    /// <summary>True for the unquantized formats (F32, F16, BF16).</summary>
    public bool IsFloat { get; }

    /// <summary>
    /// What the other operand of the dot product is converted to: ggml's vec_dot_type (Q8_0, Q8_1, Q8_K) for the
    /// quantized formats, F32 for the float formats (Ferrum's float kernels read f32 activations).
    /// </summary>
    public GgmlType ActivationType { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;

    // The weight formats, in the order every derived list keeps (floats, legacy 32-element, K-quants, codebooks).
    // Adding a format: a GgmlTypeInfo entry (ggml's numbers), a BlockLayout entry (+ BlockOffsets constants), a row here.
    private static readonly FormatRow[] Table =
    {
        new(GgmlType.F32), new(GgmlType.F16), new(GgmlType.BF16),
        new(GgmlType.Q4_0), new(GgmlType.Q4_1), new(GgmlType.Q5_0), new(GgmlType.Q5_1), new(GgmlType.Q8_0),
        new(GgmlType.Q2_K), new(GgmlType.Q3_K), new(GgmlType.Q4_K), new(GgmlType.Q5_K), new(GgmlType.Q6_K),
        new(GgmlType.IQ4_NL), new(GgmlType.IQ4_XS), new(GgmlType.MXFP4),
    };

    private static readonly FormatRow?[] ById = BuildById();

    /// <summary>Every weight format, in the order of the derived lists.</summary>
    public static IReadOnlyList<FormatRow> All => Table;

    /// <summary>The ggml types of <see cref="All"/>, same order.</summary>
    public static IReadOnlyList<GgmlType> Types { get; } = Array.ConvertAll(Table, r => r.Type);

    /// <summary>The row of <paramref name="type"/>, or false when Ferrum does not run that format (an array index, no hashing).</summary>
    public static bool TryGet(GgmlType type, out FormatRow row)
    {
        var found = (uint)type < (uint)ById.Length ? ById[(int)type] : null;
        row = found!;
        return found is not null;
    }

    /// <summary>The row of a format Ferrum runs; NotSupportedException naming the type otherwise.</summary>
    public static FormatRow Get(GgmlType type) =>
        TryGet(type, out var row) ? row
        : throw new NotSupportedException($"Ferrum has no weight format row for ggml type {(GgmlTypeInfo.TryGet((uint)type, out var i) ? i.Name : ((uint)type).ToString())}");

    private static FormatRow?[] BuildById()
    {
        uint max = 0;
        foreach (var r in Table)
        {
            max = Math.Max(max, (uint)r.Type);
        }

        var byId = new FormatRow?[max + 1];
        foreach (var r in Table)
        {
            if (byId[(int)r.Type] is not null)
            {
                throw new InvalidOperationException($"format {r.Name} has two rows");
            }

            byId[(int)r.Type] = r;
        }

        return byId;
    }
}
