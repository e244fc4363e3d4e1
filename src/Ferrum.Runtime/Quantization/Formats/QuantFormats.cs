// Marker types of the formats Ferrum supports; kernels.yaml accepts exactly these (see docs/kernels-yaml.md).
namespace Ferrum.Quantization.Formats;

/// <summary>The ggml f32 format (<see cref="GgmlType.F32"/>).</summary>
public readonly struct F32 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.F32;
}

/// <summary>The ggml f16 format (<see cref="GgmlType.F16"/>).</summary>
public readonly struct F16 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.F16;
}

/// <summary>The ggml bf16 format (<see cref="GgmlType.BF16"/>).</summary>
public readonly struct BF16 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.BF16;
}

/// <summary>The ggml q4_0 format (<see cref="GgmlType.Q4_0"/>).</summary>
public readonly struct Q4_0 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_0;
}

/// <summary>The ggml q4_1 format (<see cref="GgmlType.Q4_1"/>).</summary>
public readonly struct Q4_1 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_1;
}

/// <summary>The ggml q5_0 format (<see cref="GgmlType.Q5_0"/>).</summary>
public readonly struct Q5_0 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_0;
}

/// <summary>The ggml q5_1 format (<see cref="GgmlType.Q5_1"/>).</summary>
public readonly struct Q5_1 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_1;
}

/// <summary>The ggml q8_0 format (<see cref="GgmlType.Q8_0"/>).</summary>
public readonly struct Q8_0 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q8_0;
}

/// <summary>The ggml q2_K format (<see cref="GgmlType.Q2_K"/>).</summary>
public readonly struct Q2_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q2_K;
}

/// <summary>The ggml q3_K format (<see cref="GgmlType.Q3_K"/>).</summary>
public readonly struct Q3_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q3_K;
}

/// <summary>The ggml q4_K format (<see cref="GgmlType.Q4_K"/>).</summary>
public readonly struct Q4_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_K;
}

/// <summary>The ggml q5_K format (<see cref="GgmlType.Q5_K"/>).</summary>
public readonly struct Q5_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_K;
}

/// <summary>The ggml q6_K format (<see cref="GgmlType.Q6_K"/>).</summary>
public readonly struct Q6_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q6_K;
}

/// <summary>The ggml iq4_nl format (<see cref="GgmlType.IQ4_NL"/>).</summary>
public readonly struct IQ4_NL : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.IQ4_NL;
}

/// <summary>The ggml iq4_xs format (<see cref="GgmlType.IQ4_XS"/>).</summary>
public readonly struct IQ4_XS : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.IQ4_XS;
}

/// <summary>The ggml mxfp4 format (<see cref="GgmlType.MXFP4"/>).</summary>
public readonly struct MXFP4 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.MXFP4;
}
