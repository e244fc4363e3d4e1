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
