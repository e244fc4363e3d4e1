// Marker types of the formats Ferrum supports, one per FormatRow (a test checks they agree); kernels.yaml accepts
// exactly these (see docs/kernels-yaml.md). The members are constants so generic code folds them at JIT time.
namespace Ferrum.Quantization.Formats;

/// <summary>The ggml f32 format (<see cref="GgmlType.F32"/>).</summary>
public readonly struct F32 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.F32;

    /// <inheritdoc/>
    public static int BlockElements => 1;

    /// <inheritdoc/>
    public static int BlockBytes => 4;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.F32;
}

/// <summary>The ggml f16 format (<see cref="GgmlType.F16"/>).</summary>
public readonly struct F16 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.F16;

    /// <inheritdoc/>
    public static int BlockElements => 1;

    /// <inheritdoc/>
    public static int BlockBytes => 2;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.F32;
}

/// <summary>The ggml bf16 format (<see cref="GgmlType.BF16"/>).</summary>
public readonly struct BF16 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.BF16;

    /// <inheritdoc/>
    public static int BlockElements => 1;

    /// <inheritdoc/>
    public static int BlockBytes => 2;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.F32;
}

/// <summary>The ggml q4_0 format (<see cref="GgmlType.Q4_0"/>).</summary>
public readonly struct Q4_0 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_0;

    /// <inheritdoc/>
    public static int BlockElements => Q4_0Layout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q4_0Layout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_0;
}

/// <summary>The ggml q4_1 format (<see cref="GgmlType.Q4_1"/>).</summary>
public readonly struct Q4_1 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_1;

    /// <inheritdoc/>
    public static int BlockElements => Q4_1Layout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q4_1Layout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_1;
}

/// <summary>The ggml q5_0 format (<see cref="GgmlType.Q5_0"/>).</summary>
public readonly struct Q5_0 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_0;

    /// <inheritdoc/>
    public static int BlockElements => Q5_0Layout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q5_0Layout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_0;
}

/// <summary>The ggml q5_1 format (<see cref="GgmlType.Q5_1"/>).</summary>
public readonly struct Q5_1 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_1;

    /// <inheritdoc/>
    public static int BlockElements => Q5_1Layout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q5_1Layout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_1;
}

/// <summary>The ggml q8_0 format (<see cref="GgmlType.Q8_0"/>).</summary>
public readonly struct Q8_0 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q8_0;

    /// <inheritdoc/>
    public static int BlockElements => Q8_0Layout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q8_0Layout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_0;
}

/// <summary>The ggml q2_K format (<see cref="GgmlType.Q2_K"/>).</summary>
public readonly struct Q2_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q2_K;

    /// <inheritdoc/>
    public static int BlockElements => Q2KLayout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q2KLayout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_K;
}

/// <summary>The ggml q3_K format (<see cref="GgmlType.Q3_K"/>).</summary>
public readonly struct Q3_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q3_K;

    /// <inheritdoc/>
    public static int BlockElements => Q3KLayout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q3KLayout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_K;
}

/// <summary>The ggml q4_K format (<see cref="GgmlType.Q4_K"/>).</summary>
public readonly struct Q4_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q4_K;

    /// <inheritdoc/>
    public static int BlockElements => Q4KLayout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q4KLayout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_K;
}

/// <summary>The ggml q5_K format (<see cref="GgmlType.Q5_K"/>).</summary>
public readonly struct Q5_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q5_K;

    /// <inheritdoc/>
    public static int BlockElements => Q5KLayout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q5KLayout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_K;
}

/// <summary>The ggml q6_K format (<see cref="GgmlType.Q6_K"/>).</summary>
public readonly struct Q6_K : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.Q6_K;

    /// <inheritdoc/>
    public static int BlockElements => Q6KLayout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Q6KLayout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_K;
}

/// <summary>The ggml iq4_nl format (<see cref="GgmlType.IQ4_NL"/>).</summary>
public readonly struct IQ4_NL : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.IQ4_NL;

    /// <inheritdoc/>
    public static int BlockElements => IQ4NLLayout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => IQ4NLLayout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_0;
}

/// <summary>The ggml iq4_xs format (<see cref="GgmlType.IQ4_XS"/>).</summary>
public readonly struct IQ4_XS : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.IQ4_XS;

    /// <inheritdoc/>
    public static int BlockElements => IQ4XSLayout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => IQ4XSLayout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_K;
}

/// <summary>The ggml mxfp4 format (<see cref="GgmlType.MXFP4"/>).</summary>
public readonly struct MXFP4 : IQuantFormat
{
    /// <inheritdoc/>
    public static GgmlType Type => GgmlType.MXFP4;

    /// <inheritdoc/>
    public static int BlockElements => Mxfp4Layout.BlockElements;

    /// <inheritdoc/>
    public static int BlockBytes => Mxfp4Layout.BlockBytes;

    /// <inheritdoc/>
    public static GgmlType ActivationType => GgmlType.Q8_0;
}
