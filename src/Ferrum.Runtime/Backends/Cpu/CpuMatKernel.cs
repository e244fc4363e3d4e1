using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// A quantized (or float) weight matrix times a batch of quantized activations: for every token t and row r,
/// <c>y[t·yStride + r] = dot(row r of W, activation t)</c>. Weights are in ggml's block layout, one row of
/// <c>k</c> elements every <c>rowBytes</c>; activations are rows of the format's activation type.
/// </summary>
public sealed unsafe class CpuMatKernel
{
    private readonly delegate*<int, byte*, long, int, byte*, long, int*, int, float*, long, void> _fn;

    internal CpuMatKernel(GgmlType weight, SimdLevel level, string path, delegate*<int, byte*, long, int, byte*, long, int*, int, float*, long, void> fn, int fixedK = 0)
    {
        WeightType = weight;
        WeightInfo = GgmlTypeInfo.Get(weight);
        ActivationType = FormatRow.Get(weight).ActivationType;
        Level = level;
        FixedK = fixedK;
        Path = path;
        _fn = fn;
    }

    /// <summary>The weight format.</summary>
    public GgmlType WeightType { get; }

    /// <summary>Block facts of the weight format.</summary>
    public GgmlTypeInfo WeightInfo { get; }

    /// <summary>What each activation row must be quantized to (F32 for float weights).</summary>
    public GgmlType ActivationType { get; }

    /// <summary>The SIMD level the kernel runs.</summary>
    public SimdLevel Level { get; }

    /// <summary>Row length this kernel was specialized for, or 0 for the shape-generic kernel.</summary>
    public int FixedK { get; }

    /// <summary>Human-readable path, e.g. "q4_K·q8_K avx512 generic".</summary>
    public string Path { get; }

    /// <summary>Address of the compiled product; two levels that share one dot implementation share it.</summary>
    internal nint Code => (nint)_fn;

    /// <summary>Block-size granularity the row length must be a multiple of.</summary>
    public int BlockElements => WeightInfo.BlockSize;

    /// <summary>Runs the product; pointers must cover rows×rowBytes weights, tokens activation rows and outputs.</summary>
    public void Run(int k, byte* w, long rowBytes, int rows, byte* act, long actStride, int tokens, float* y, long yStride) =>
        Run(k, w, rowBytes, rows, act, actStride, null, tokens, y, yStride);

    /// <summary>
    /// Runs the product for the activation rows <c>act + tokenIndex[t]·actStride</c> (t &lt; tokens), writing
    /// <c>y + t·yStride</c>; with a null <paramref name="tokenIndex"/> the activation rows are consecutive.
    /// </summary>
    public void Run(int k, byte* w, long rowBytes, int rows, byte* act, long actStride, int* tokenIndex, int tokens, float* y, long yStride)
    {
        if (k <= 0 || k % WeightInfo.BlockSize != 0 || (FixedK != 0 && k != FixedK))
        {
            throw new ArgumentException($"{Path}: row length {k} is not valid for this kernel", nameof(k));
        }

        _fn(k, w, rowBytes, rows, act, actStride, tokenIndex, tokens, y, yStride);
    }

    /// <inheritdoc />
    public override string ToString() => Path;
}
