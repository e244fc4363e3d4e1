// Linked as source into Ferrum.Generators (netstandard2.0): see GgmlType.cs. Plain data, no Span APIs, so the
// generator's C#, OpenCL and Metal emitters can print kernels from the same description the runtime decodes.
using System;
using System.Collections.Generic;

namespace Ferrum.Quantization.Formats;

/// <summary>What the bytes of one field of a quantized block hold.</summary>
public enum BlockFieldKind
{
    /// <summary>IEEE fp32 values (F32 elements, Q8_K's scale d).</summary>
    Float32,

    /// <summary>IEEE fp16 values (F16 elements).</summary>
    Float16,

    /// <summary>bfloat16 values: the top 16 bits of an fp32 (BF16 elements).</summary>
    BFloat16,

    /// <summary>fp16 scale d that multiplies the integer quants.</summary>
    Float16Scale,

    /// <summary>fp16 offset: added (Q4_1/Q5_1 m) or, for K-quants (dmin), scaled by the sub-block min and subtracted.</summary>
    Float16Min,

    /// <summary>fp16 d·Σq of a Q8_1 activation block, so dot products get the offset term without touching q.</summary>
    Float16Sum,

    /// <summary>fp32 scale d (Q8_K).</summary>
    Float32Scale,

    /// <summary>E8M0 exponent byte e: scale 2^(e-127); ggml stores doubled E2M1 values, so it applies 2^(e-128).</summary>
    E8M0Scale,

    /// <summary>4-bit quants, two per byte; within each 32 elements, element j is the low nibble of byte j and j+16 the high nibble (K-quants: 64-element chunks, j and j+32).</summary>
    Nibbles,

    /// <summary>2-bit quants, four per byte: byte l of a 32-byte group holds elements l, l+32, l+64, l+96 of a 128-element half (bits 0-1, 2-3, 4-5, 6-7).</summary>
    Crumbs,

    /// <summary>One extra bit per element (5th bit for Q5_0/Q5_1/Q5_K; inverted "subtract 4" bit for Q3_K's hmask).</summary>
    HighBits,

    /// <summary>Two extra bits per element (bits 4-5 of a 6-bit quant, Q6_K's qh).</summary>
    HighBitPairs,

    /// <summary>Signed 8-bit quants.</summary>
    Int8Quants,

    /// <summary>Signed 8-bit sub-block scales (Q6_K).</summary>
    Int8Scales,

    /// <summary>One byte per 16-element sub-block: low nibble scale, high nibble min (Q2_K).</summary>
    Scale4Min4,

    /// <summary>Sixteen 6-bit signed scales (stored +32) in 12 bytes: low nibbles in bytes 0-7, top 2 bits in bytes 8-11 (Q3_K).</summary>
    Scales6x16,

    /// <summary>Eight 6-bit scales and eight 6-bit mins in 12 bytes, decoded by ggml's get_scale_min_k4 (Q4_K, Q5_K).</summary>
    ScaleMin6x8,

    /// <summary>Top 2 bits of eight 6-bit sub-block scales, one u16 (IQ4_XS scales_h).</summary>
    ScalesHigh2,

    /// <summary>Low 4 bits of eight 6-bit sub-block scales, two per byte (IQ4_XS scales_l).</summary>
    ScalesLow4,

    /// <summary>Signed 16-bit sums of 16 consecutive quants (Q8_K bsums).</summary>
    Int16Sums,
}

/// <summary>How a block's integer codes turn into real values.</summary>
public enum BlockValueMapping
{
    /// <summary>Elements are stored as floats (F32, F16, BF16).</summary>
    Float,

    /// <summary>value = d·(q - zero point), symmetric around the zero point.</summary>
    Linear,

    /// <summary>value = d·q + m (legacy) or d·sc·q - dmin·mn (K-quants).</summary>
    LinearWithMin,

    /// <summary>value = scale·codebook[q] with a 16-entry codebook (IQ4_NL, IQ4_XS, MXFP4).</summary>
    Codebook,
}

/// <summary>One field of a block: where it is and what it holds. Offsets and lengths are in bytes.</summary>
public sealed class BlockField
{
    internal BlockField(string name, int offset, int length, BlockFieldKind kind)
    {
        Name = name;
        Offset = offset;
        Length = length;
        Kind = kind;
    }

    /// <summary>ggml's member name in ggml-common.h (d, dmin, m, s, e, qs, qh, ql, hmask, scales, scales_h, scales_l, bsums).</summary>
    public string Name { get; }

    /// <summary>Byte offset inside the block.</summary>
    public int Offset { get; }

    /// <summary>Length in bytes.</summary>
    public int Length { get; }

    /// <summary>What the bytes hold.</summary>
    public BlockFieldKind Kind { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}@{Offset}+{Length}:{Kind}";
}

/// <summary>
/// The byte layout of one ggml block format: fields in storage order, sub-block structure, value mapping and the
/// activation type its integer dot product runs against. One table, read by the runtime and by the generator.
/// </summary>
public sealed class BlockLayout
{
    private BlockLayout(GgmlType type, int blockSize, int typeSize, int subBlockSize, int zeroPoint, BlockValueMapping mapping,
        GgmlType activationType, sbyte[]? codebook, string summary, BlockField[] fields)
    {
        Type = type;
        BlockSize = blockSize;
        TypeSize = typeSize;
        SubBlockSize = subBlockSize;
        ZeroPoint = zeroPoint;
        Mapping = mapping;
        ActivationType = activationType;
        Codebook = codebook is null ? null : Array.AsReadOnly(codebook);
        Summary = summary;
        Fields = fields;
        var end = 0;
        foreach (var f in fields)
        {
            if (f.Offset != end)
            {
                throw new InvalidOperationException($"{type}: field {f.Name} at {f.Offset}, expected {end}");
            }

            end += f.Length;
        }

        if (end != typeSize)
        {
            throw new InvalidOperationException($"{type}: fields cover {end} bytes, block has {typeSize}");
        }
    }

    /// <summary>The ggml type.</summary>
    public GgmlType Type { get; }

    /// <summary>Elements per block.</summary>
    public int BlockSize { get; }

    /// <summary>Bytes per block.</summary>
    public int TypeSize { get; }

    /// <summary>Elements sharing one scale (the block size when there is a single scale).</summary>
    public int SubBlockSize { get; }

    /// <summary>Integer subtracted from a code before scaling (8 for Q4_0, 16 for Q5_0, 32 for Q6_K, 4 for Q3_K's missing high bit; 0 otherwise).</summary>
    public int ZeroPoint { get; }

    /// <summary>How codes become values.</summary>
    public BlockValueMapping Mapping { get; }

    /// <summary>The activation type of the integer dot product (ggml's vec_dot_type).</summary>
    public GgmlType ActivationType { get; }

    /// <summary>The 16-entry codebook for <see cref="BlockValueMapping.Codebook"/> formats, else null.</summary>
    public IReadOnlyList<sbyte>? Codebook { get; }

    /// <summary>One-line description of the layout.</summary>
    public string Summary { get; }

    /// <summary>Fields in storage order; they tile the block exactly.</summary>
    public IReadOnlyList<BlockField> Fields { get; }

    /// <summary>The field named <paramref name="name"/>.</summary>
    public BlockField Field(string name)
    {
        foreach (var f in Fields)
        {
            if (f.Name == name)
            {
                return f;
            }
        }

        throw new ArgumentException($"{Type} has no field '{name}'", nameof(name));
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Type}: {Summary}";

    /// <summary>IQ4_NL / IQ4_XS non-linear 4-bit codebook (ggml kvalues_iq4nl); read-only by convention, public via <see cref="Codebook"/>.</summary>
    internal static readonly sbyte[] Iq4NlValues = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };

    /// <summary>MXFP4 codebook: E2M1 values doubled (ggml kvalues_mxfp4), so the E8M0 scale is halved.</summary>
    internal static readonly sbyte[] Mxfp4Values = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

    private static BlockField F(string name, int offset, int length, BlockFieldKind kind) => new(name, offset, length, kind);

    private static readonly BlockLayout[] Table =
    {
        new(GgmlType.F32, 1, 4, 1, 0, BlockValueMapping.Float, GgmlType.F32, null,
            "one IEEE fp32 per element", new[] { F("value", 0, 4, BlockFieldKind.Float32) }),
        new(GgmlType.F16, 1, 2, 1, 0, BlockValueMapping.Float, GgmlType.F16, null,
            "one IEEE fp16 per element", new[] { F("value", 0, 2, BlockFieldKind.Float16) }),
        new(GgmlType.BF16, 1, 2, 1, 0, BlockValueMapping.Float, GgmlType.BF16, null,
            "one bfloat16 (top half of an fp32) per element", new[] { F("value", 0, 2, BlockFieldKind.BFloat16) }),
        new(GgmlType.Q4_0, Q4_0Layout.BlockElements, Q4_0Layout.BlockBytes, 32, 8, BlockValueMapping.Linear, GgmlType.Q8_0, null,
            "f16 d; 16 bytes of nibbles; x = d*(q-8)",
            new[] { F("d", Q4_0Layout.DOffset, 2, BlockFieldKind.Float16Scale), F("qs", Q4_0Layout.QsOffset, 16, BlockFieldKind.Nibbles) }),
        new(GgmlType.Q4_1, Q4_1Layout.BlockElements, Q4_1Layout.BlockBytes, 32, 0, BlockValueMapping.LinearWithMin, GgmlType.Q8_1, null,
            "f16 d, f16 m; 16 bytes of nibbles; x = d*q + m",
            new[] { F("d", Q4_1Layout.DOffset, 2, BlockFieldKind.Float16Scale), F("m", Q4_1Layout.MOffset, 2, BlockFieldKind.Float16Min), F("qs", Q4_1Layout.QsOffset, 16, BlockFieldKind.Nibbles) }),
        new(GgmlType.Q5_0, Q5_0Layout.BlockElements, Q5_0Layout.BlockBytes, 32, 16, BlockValueMapping.Linear, GgmlType.Q8_0, null,
            "f16 d; u32 qh (bit j = 5th bit of element j); nibbles; x = d*(q-16)",
            new[] { F("d", Q5_0Layout.DOffset, 2, BlockFieldKind.Float16Scale), F("qh", Q5_0Layout.QhOffset, 4, BlockFieldKind.HighBits), F("qs", Q5_0Layout.QsOffset, 16, BlockFieldKind.Nibbles) }),
        new(GgmlType.Q5_1, Q5_1Layout.BlockElements, Q5_1Layout.BlockBytes, 32, 0, BlockValueMapping.LinearWithMin, GgmlType.Q8_1, null,
            "f16 d, f16 m; u32 qh; nibbles; x = d*q + m",
            new[] { F("d", Q5_1Layout.DOffset, 2, BlockFieldKind.Float16Scale), F("m", Q5_1Layout.MOffset, 2, BlockFieldKind.Float16Min), F("qh", Q5_1Layout.QhOffset, 4, BlockFieldKind.HighBits), F("qs", Q5_1Layout.QsOffset, 16, BlockFieldKind.Nibbles) }),
        new(GgmlType.Q8_0, Q8_0Layout.BlockElements, Q8_0Layout.BlockBytes, 32, 0, BlockValueMapping.Linear, GgmlType.Q8_0, null,
            "f16 d; 32 signed bytes; x = d*q",
            new[] { F("d", Q8_0Layout.DOffset, 2, BlockFieldKind.Float16Scale), F("qs", Q8_0Layout.QsOffset, 32, BlockFieldKind.Int8Quants) }),
        new(GgmlType.Q8_1, Q8_1Layout.BlockElements, Q8_1Layout.BlockBytes, 32, 0, BlockValueMapping.Linear, GgmlType.Q8_1, null,
            "activation type: f16 d, f16 s = d*sum(q); 32 signed bytes; x = d*q",
            new[] { F("d", Q8_1Layout.DOffset, 2, BlockFieldKind.Float16Scale), F("s", Q8_1Layout.SOffset, 2, BlockFieldKind.Float16Sum), F("qs", Q8_1Layout.QsOffset, 32, BlockFieldKind.Int8Quants) }),
        new(GgmlType.Q2_K, Q2KLayout.BlockElements, Q2KLayout.BlockBytes, 16, 0, BlockValueMapping.LinearWithMin, GgmlType.Q8_K, null,
            "16 scale/min nibble pairs; 2-bit quants; f16 d, f16 dmin; x = d*sc*q - dmin*mn",
            new[] { F("scales", Q2KLayout.ScalesOffset, 16, BlockFieldKind.Scale4Min4), F("qs", Q2KLayout.QsOffset, 64, BlockFieldKind.Crumbs), F("d", Q2KLayout.DOffset, 2, BlockFieldKind.Float16Scale), F("dmin", Q2KLayout.DMinOffset, 2, BlockFieldKind.Float16Min) }),
        new(GgmlType.Q3_K, Q3KLayout.BlockElements, Q3KLayout.BlockBytes, 16, 4, BlockValueMapping.Linear, GgmlType.Q8_K, null,
            "hmask (bit clear = subtract 4); 2-bit quants; 16 6-bit scales; f16 d; x = d*(sc-32)*(q - 4*!h)",
            new[] { F("hmask", Q3KLayout.HMaskOffset, 32, BlockFieldKind.HighBits), F("qs", Q3KLayout.QsOffset, 64, BlockFieldKind.Crumbs), F("scales", Q3KLayout.ScalesOffset, 12, BlockFieldKind.Scales6x16), F("d", Q3KLayout.DOffset, 2, BlockFieldKind.Float16Scale) }),
        new(GgmlType.Q4_K, Q4KLayout.BlockElements, Q4KLayout.BlockBytes, 32, 0, BlockValueMapping.LinearWithMin, GgmlType.Q8_K, null,
            "f16 d, f16 dmin; 8 6-bit scales + mins; nibbles in 64-element chunks; x = d*sc*q - dmin*mn",
            new[] { F("d", Q4KLayout.DOffset, 2, BlockFieldKind.Float16Scale), F("dmin", Q4KLayout.DMinOffset, 2, BlockFieldKind.Float16Min), F("scales", Q4KLayout.ScalesOffset, 12, BlockFieldKind.ScaleMin6x8), F("qs", Q4KLayout.QsOffset, 128, BlockFieldKind.Nibbles) }),
        new(GgmlType.Q5_K, Q5KLayout.BlockElements, Q5KLayout.BlockBytes, 32, 0, BlockValueMapping.LinearWithMin, GgmlType.Q8_K, null,
            "as Q4_K plus qh (bit 2c / 2c+1 of qh[l] = 5th bit of chunk c's low / high nibble)",
            new[] { F("d", Q5KLayout.DOffset, 2, BlockFieldKind.Float16Scale), F("dmin", Q5KLayout.DMinOffset, 2, BlockFieldKind.Float16Min), F("scales", Q5KLayout.ScalesOffset, 12, BlockFieldKind.ScaleMin6x8), F("qh", Q5KLayout.QhOffset, 32, BlockFieldKind.HighBits), F("qs", Q5KLayout.QsOffset, 128, BlockFieldKind.Nibbles) }),
        new(GgmlType.Q6_K, Q6KLayout.BlockElements, Q6KLayout.BlockBytes, 16, 32, BlockValueMapping.Linear, GgmlType.Q8_K, null,
            "low nibbles ql; 2 high bits qh; 16 int8 scales; f16 d; x = d*sc*(q-32)",
            new[] { F("ql", Q6KLayout.QlOffset, 128, BlockFieldKind.Nibbles), F("qh", Q6KLayout.QhOffset, 64, BlockFieldKind.HighBitPairs), F("scales", Q6KLayout.ScalesOffset, 16, BlockFieldKind.Int8Scales), F("d", Q6KLayout.DOffset, 2, BlockFieldKind.Float16Scale) }),
        new(GgmlType.Q8_K, Q8KLayout.BlockElements, Q8KLayout.BlockBytes, 256, 0, BlockValueMapping.Linear, GgmlType.Q8_K, null,
            "activation type: f32 d; 256 signed bytes; 16 i16 sums of 16 quants; x = d*q",
            new[] { F("d", Q8KLayout.DOffset, 4, BlockFieldKind.Float32Scale), F("qs", Q8KLayout.QsOffset, 256, BlockFieldKind.Int8Quants), F("bsums", Q8KLayout.BSumsOffset, 32, BlockFieldKind.Int16Sums) }),
        new(GgmlType.IQ4_NL, IQ4NLLayout.BlockElements, IQ4NLLayout.BlockBytes, 32, 0, BlockValueMapping.Codebook, GgmlType.Q8_0, Iq4NlValues,
            "f16 d; nibbles indexing the iq4nl codebook; x = d*kvalues[q]",
            new[] { F("d", IQ4NLLayout.DOffset, 2, BlockFieldKind.Float16Scale), F("qs", IQ4NLLayout.QsOffset, 16, BlockFieldKind.Nibbles) }),
        new(GgmlType.IQ4_XS, IQ4XSLayout.BlockElements, IQ4XSLayout.BlockBytes, 32, 0, BlockValueMapping.Codebook, GgmlType.Q8_K, Iq4NlValues,
            "f16 d; 6-bit sub-block scales (2 high bits in scales_h, 4 low in scales_l); nibbles; x = d*(ls-32)*kvalues[q]",
            new[] { F("d", IQ4XSLayout.DOffset, 2, BlockFieldKind.Float16Scale), F("scales_h", IQ4XSLayout.ScalesHOffset, 2, BlockFieldKind.ScalesHigh2), F("scales_l", IQ4XSLayout.ScalesLOffset, 4, BlockFieldKind.ScalesLow4), F("qs", IQ4XSLayout.QsOffset, 128, BlockFieldKind.Nibbles) }),
        new(GgmlType.MXFP4, Mxfp4Layout.BlockElements, Mxfp4Layout.BlockBytes, 32, 0, BlockValueMapping.Codebook, GgmlType.Q8_0, Mxfp4Values,
            "E8M0 exponent e; nibbles indexing doubled E2M1 values; x = 2^(e-128)*kvalues[q]",
            new[] { F("e", Mxfp4Layout.EOffset, 1, BlockFieldKind.E8M0Scale), F("qs", Mxfp4Layout.QsOffset, 16, BlockFieldKind.Nibbles) }),
    };

    private static readonly Dictionary<GgmlType, BlockLayout> ByType = BuildByType();

    /// <summary>Every described format: the 16 weight formats (Q8_0 doubles as an activation type) plus the activation-only Q8_1 and Q8_K.</summary>
    public static IReadOnlyList<BlockLayout> All => Table;

    /// <summary>True when <paramref name="type"/> has a layout description.</summary>
    public static bool TryGet(GgmlType type, out BlockLayout layout)
    {
        if (ByType.TryGetValue(type, out var found))
        {
            layout = found;
            return true;
        }

        layout = null!;
        return false;
    }

    /// <summary>The layout of a described format.</summary>
    public static BlockLayout Get(GgmlType type) =>
        TryGet(type, out var layout) ? layout : throw new ArgumentException($"no block layout for ggml type {type}", nameof(type));

    private static Dictionary<GgmlType, BlockLayout> BuildByType()
    {
        var map = new Dictionary<GgmlType, BlockLayout>();
        foreach (var l in Table)
        {
            map.Add(l.Type, l);
        }

        return map;
    }
}
