using System.Runtime.Intrinsics;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// One 32-element block format as the AVX2 block-32 kernels (<see cref="Avx2Block32Dot{TB}"/>) see it: the 32
/// weight values of a block as bytes, its scale and, for the formats with a per-block minimum, that minimum.
/// Adding a 32-element format to the batched AVX2 path is one struct implementing this.
/// </summary>
internal unsafe interface IBlock32
{
    /// <summary>Bytes of one weight block.</summary>
    static abstract int BlockBytes { get; }

    /// <summary>
    /// False: <see cref="Values"/> are signed weights and the activations are Q8_0 (block = d·Σ x·y).
    /// True: they are unsigned codes, the activations are Q8_1 and the block adds its minimum times the activation
    /// sum (block = d·d_y·Σ q·y + m·s_y, ggml's q4_1/q5_1 rule).
    /// </summary>
    static abstract bool HasMin { get; }

    /// <summary>The block's 32 weights in element order (signed values, or codes 0..31 when <see cref="HasMin"/>).</summary>
    static abstract Vector256<sbyte> Values(byte* block);

    /// <summary>The block's scale (the multiplier of <see cref="Values"/>); <paramref name="f16"/> is <see cref="Fp16.HalfTable"/>.</summary>
    static abstract float Scale(byte* block, float* f16);

    /// <summary>The block's minimum (only read when <see cref="HasMin"/>).</summary>
    static abstract float Min(byte* block, float* f16);
}
