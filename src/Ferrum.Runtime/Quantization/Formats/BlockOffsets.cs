// Linked as source into Ferrum.Generators (netstandard2.0): see GgmlType.cs. Constants only, so the JIT folds them
// into the SIMD kernels (Backends/Cpu) exactly like literals, and BlockLayout's table is built from the same numbers.
// Offsets are in bytes from the start of a block, as in ggml-common.h's block_* structs.
namespace Ferrum.Quantization.Formats;

/// <summary>ggml block_q4_0: f16 d, 16 bytes of nibbles.</summary>
internal static class Q4_0Layout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 18;
    public const int DOffset = 0;
    public const int QsOffset = 2;
}

/// <summary>ggml block_q4_1: f16 d, f16 m, 16 bytes of nibbles.</summary>
internal static class Q4_1Layout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 20;
    public const int DOffset = 0;
    public const int MOffset = 2;
    public const int QsOffset = 4;
}

/// <summary>ggml block_q5_0: f16 d, u32 qh (5th bits), 16 bytes of nibbles.</summary>
internal static class Q5_0Layout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 22;
    public const int DOffset = 0;
    public const int QhOffset = 2;
    public const int QsOffset = 6;
}

/// <summary>ggml block_q5_1: f16 d, f16 m, u32 qh, 16 bytes of nibbles.</summary>
internal static class Q5_1Layout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 24;
    public const int DOffset = 0;
    public const int MOffset = 2;
    public const int QhOffset = 4;
    public const int QsOffset = 8;
}

/// <summary>ggml block_q8_0 (a weight format and the activation type of the 32-element formats): f16 d, 32 int8.</summary>
internal static class Q8_0Layout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 34;
    public const int DOffset = 0;
    public const int QsOffset = 2;
}

/// <summary>ggml block_q8_1 (activation type of Q4_1/Q5_1): f16 d, f16 s = d·Σq, 32 int8.</summary>
internal static class Q8_1Layout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 36;
    public const int DOffset = 0;
    public const int SOffset = 2;
    public const int QsOffset = 4;
}

/// <summary>ggml block_q2_K: 16 scale/min bytes, 64 bytes of 2-bit quants, f16 d, f16 dmin.</summary>
internal static class Q2KLayout
{
    public const int BlockElements = 256;
    public const int BlockBytes = 84;
    public const int ScalesOffset = 0;
    public const int QsOffset = 16;
    public const int DOffset = 80;
    public const int DMinOffset = 82;
}

/// <summary>ggml block_q3_K: 32 bytes hmask, 64 bytes of 2-bit quants, 12 bytes of 6-bit scales, f16 d.</summary>
internal static class Q3KLayout
{
    public const int BlockElements = 256;
    public const int BlockBytes = 110;
    public const int HMaskOffset = 0;
    public const int QsOffset = 32;
    public const int ScalesOffset = 96;
    public const int DOffset = 108;
}

/// <summary>ggml block_q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles.</summary>
internal static class Q4KLayout
{
    public const int BlockElements = 256;
    public const int BlockBytes = 144;
    public const int DOffset = 0;
    public const int DMinOffset = 2;
    public const int ScalesOffset = 4;
    public const int QsOffset = 16;
}

/// <summary>ggml block_q5_K: as Q4_K with 32 bytes of 5th bits (qh) before the nibbles.</summary>
internal static class Q5KLayout
{
    public const int BlockElements = 256;
    public const int BlockBytes = 176;
    public const int DOffset = 0;
    public const int DMinOffset = 2;
    public const int ScalesOffset = 4;
    public const int QhOffset = 16;
    public const int QsOffset = 48;
}

/// <summary>ggml block_q6_K: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 int8 scales, f16 d.</summary>
internal static class Q6KLayout
{
    public const int BlockElements = 256;
    public const int BlockBytes = 210;
    public const int QlOffset = 0;
    public const int QhOffset = 128;
    public const int ScalesOffset = 192;
    public const int DOffset = 208;
}

/// <summary>ggml block_q8_K (activation type of the 256-element formats): f32 d, 256 int8, 16 i16 sums of 16 quants.</summary>
internal static class Q8KLayout
{
    public const int BlockElements = 256;
    public const int BlockBytes = 292;
    public const int DOffset = 0;
    public const int QsOffset = 4;
    public const int BSumsOffset = 260;
}

/// <summary>ggml block_iq4_nl: f16 d, 16 bytes of codebook nibbles.</summary>
internal static class IQ4NLLayout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 18;
    public const int DOffset = 0;
    public const int QsOffset = 2;
}

/// <summary>ggml block_iq4_xs: f16 d, u16 scales_h, 4 bytes scales_l, 128 bytes of codebook nibbles.</summary>
internal static class IQ4XSLayout
{
    public const int BlockElements = 256;
    public const int BlockBytes = 136;
    public const int DOffset = 0;
    public const int ScalesHOffset = 2;
    public const int ScalesLOffset = 4;
    public const int QsOffset = 8;
}

/// <summary>ggml block_mxfp4: E8M0 exponent e, 16 bytes of E2M1 codebook nibbles.</summary>
internal static class Mxfp4Layout
{
    public const int BlockElements = 32;
    public const int BlockBytes = 17;
    public const int EOffset = 0;
    public const int QsOffset = 1;
}
