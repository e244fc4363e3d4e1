using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The CPU column of one <see cref="FormatRow"/> (ggml's type_traits_cpu in spirit): the shape-generic kernel at
/// each SIMD level the format has a path for, the batched (×4) kernels that can be specialized for a row length,
/// and the activation quantizer. Built once by <see cref="CpuFormatTable"/>.
/// </summary>
internal sealed unsafe class CpuFormatRow
{
    private readonly CpuMatKernel?[] _byLevel = new CpuMatKernel?[(int)SimdLevel.Avx512 + 1];
    private readonly IFixedKernelMaker?[] _batchedByLevel = new IFixedKernelMaker?[(int)SimdLevel.Avx512 + 1];

    public CpuFormatRow(GgmlType type) => Format = FormatRow.Get(type);

    /// <summary>The format's row (block facts, layout, activation type).</summary>
    public FormatRow Format { get; }

    /// <summary>The ggml type.</summary>
    public GgmlType Type => Format.Type;

    /// <summary>What activations are quantized to before the dot (F32: copied).</summary>
    public GgmlType ActivationType => Format.ActivationType;

    /// <summary>
    /// Makes the ×4 kernel written for exactly <paramref name="level"/> specialized for a row length; null when the
    /// format has no batched kernel at that level.
    /// </summary>
    public IFixedKernelMaker? BatchedAt(SimdLevel level) => _batchedByLevel[(int)level];

    /// <summary>The levels this row has a kernel of its own at, lowest first.</summary>
    public IReadOnlyList<SimdLevel> Levels => Enum.GetValues<SimdLevel>().Where(l => _byLevel[(int)l] is not null).ToList();

    /// <summary>The kernel written for exactly <paramref name="level"/>, or null.</summary>
    public CpuMatKernel? At(SimdLevel level) => _byLevel[(int)level];

    /// <summary>The kernel of the highest level not above <paramref name="level"/> (every row has a scalar kernel).</summary>
    public CpuMatKernel Best(SimdLevel level)
    {
        for (int l = (int)level; l >= 0; l--)
        {
            if (_byLevel[l] is { } k)
            {
                return k;
            }
        }

        throw new InvalidOperationException($"the CPU row of {Format.Name} has no kernel at or below {level}");
    }

    /// <summary>Bytes of one activation row of <paramref name="k"/> elements once quantized.</summary>
    public long ActivationRowBytes(int k) => ActivationQuant.RowBytes(ActivationType, k);

    /// <summary>Quantizes (or, for float formats, copies) one activation row for this format's kernels.</summary>
    public void QuantizeActivation(float* x, byte* dst, int k) => ActivationQuant.Quantize(ActivationType, x, dst, k);

    /// <summary>Adds the batched AVX-512 kernel (four activation rows per weight decode).</summary>
    public CpuFormatRow Avx512x4<T>()
        where T : struct, IRowDot4 => AddBatched<T>(SimdLevel.Avx512);

    /// <summary>Adds the batched AVX2 kernel (four activation rows per weight decode).</summary>
    public CpuFormatRow Avx2x4<T>()
        where T : struct, IRowDot4 => AddBatched<T>(SimdLevel.Avx2);

    /// <summary>Adds the AVX2 kernel.</summary>
    public CpuFormatRow Avx2<T>()
        where T : struct, IRowDot => Add<T>(SimdLevel.Avx2);

    /// <summary>Adds the Vector128 kernel.</summary>
    public CpuFormatRow Vector128<T>()
        where T : struct, IRowDot => Add<T>(SimdLevel.Vector128);

    /// <summary>Adds the scalar kernel.</summary>
    public CpuFormatRow Scalar<T>()
        where T : struct, IRowDot => Add<T>(SimdLevel.Scalar);

    private CpuFormatRow Add<T>(SimdLevel level)
        where T : struct, IRowDot
    {
        Check<T>(level);
        _byLevel[(int)level] = new CpuMatKernel(Type, level, PathOf(level, " generic"), &MatDriver.Run<T>);
        return this;
    }

    private CpuFormatRow AddBatched<T>(SimdLevel level)
        where T : struct, IRowDot4
    {
        Check<T>(level);
        _byLevel[(int)level] = new CpuMatKernel(Type, level, PathOf(level, "×4 generic"), &MatDriver.Run4<T>);
        _batchedByLevel[(int)level] = new Fixed4<T>(this, level);
        return this;
    }

    private void Check<T>(SimdLevel level)
        where T : struct, IRowDot
    {
        if (T.BlockElements != Format.BlockElements)
        {
            throw new InvalidOperationException($"{Format.Name} {level} kernel {typeof(T).Name} works on {T.BlockElements}-element blocks, the format has {Format.BlockElements}");
        }

        if (_byLevel[(int)level] is not null)
        {
            throw new InvalidOperationException($"{Format.Name} has two {level} kernels");
        }
    }

    // "q4_K·q8_K avx2 generic", "q4_K·q8_K avx512×4 generic", "f16·f32 vector128 generic".
    private string PathOf(SimdLevel level, string suffix) =>
        $"{Format.Name}·{GgmlTypeInfo.Get(ActivationType).Name} {level.ToString().ToLowerInvariant()}{suffix}";

    /// <summary>Makes a batched kernel specialized for a row length known at compile time.</summary>
    internal interface IFixedKernelMaker
    {
        /// <summary>The kernel for rows of <typeparamref name="TK"/> elements.</summary>
        CpuMatKernel Make<TK>()
            where TK : struct, IFixedRowLength;
    }

    private sealed class Fixed4<T>(CpuFormatRow row, SimdLevel level) : IFixedKernelMaker
        where T : struct, IRowDot4
    {
        public CpuMatKernel Make<TK>()
            where TK : struct, IFixedRowLength =>
            new(row.Type, level, row.PathOf(level, $"×4 specialized k={TK.Value}"), &MatDriver.RunFixed4<T, TK>, TK.Value);
    }
}
