namespace Ferrum.Backends.Cpu;

/// <summary>
/// One weight format's dot product of a quantized weight row with one quantized activation row.
/// Implemented by structs so the generic drivers in <see cref="MatDriver"/> are specialized and inlined per format.
/// </summary>
internal unsafe interface IRowDot
{
    /// <summary>Elements per weight block (32 or 256; 1 for float formats).</summary>
    static abstract int BlockElements { get; }

    /// <summary>Dot of <paramref name="blocks"/> weight blocks at <paramref name="w"/> with the activation at <paramref name="a"/>.</summary>
    static abstract float Dot(byte* w, byte* a, int blocks);
}

/// <summary>
/// A row dot that also handles four activation rows at once, decoding each weight block a single time for all
/// four (the batched/prefill path: decode work per token drops about fourfold).
/// <para>Implementations mark Dot4 and Dot2 <c>AggressiveOptimization</c>, not <c>AggressiveInlining</c>: the
/// driver calls them from several sites, and a body over the inliner's budget was left as a call to tier-0 code
/// (measured 14× slower in <c>ferrum tune</c>'s short runs); one call per row and four tokens costs nothing.</para>
/// </summary>
internal unsafe interface IRowDot4 : IRowDot
{
    /// <summary>r[i] = dot(row at <paramref name="w"/>, activation a[i]) for i &lt; 4.</summary>
    static abstract void Dot4(byte* w, byte** a, int blocks, float* r);

    /// <summary>
    /// True when <see cref="Dot2"/> is implemented: the drivers then run a batch's leftover pairs of tokens (after
    /// the groups of four; most MoE experts get only a few tokens of a small batch) through it instead of two single dots.
    /// </summary>
    static virtual bool HasDot2 => false;

    /// <summary>
    /// Where <see cref="HasDot2"/>: true sends a leftover three tokens through one Dot4 with the third row repeated,
    /// false through Dot2 and a single Dot; set per kernel by measurement (cpu-kquants prints both), as which is
    /// faster depends on how much of the kernel's cost is decoding. Kernels without Dot2 always pad.
    /// </summary>
    static virtual bool PadThree => false;

    /// <summary>r[i] = dot(row at <paramref name="w"/>, activation a<sub>i</sub>) for i &lt; 2 (only called when <see cref="HasDot2"/>).</summary>
    static virtual void Dot2(byte* w, byte* a0, byte* a1, int blocks, float* r) =>
        throw new NotSupportedException("this row dot has no two-token kernel");
}
