using Ferrum.Backends.Cpu;
using Ferrum.Quantization;

namespace Ferrum.Moe;

/// <summary>
/// A weight matrix (or a stack of per-expert matrices) in ggml's block layout, viewed in place: row r of expert e
/// starts at <c>Data + e·ExpertStride + r·RowBytes</c> and holds <see cref="Columns"/> elements (ggml ne[0]).
/// The memory (usually a GGUF mapping) must outlive every use.
/// </summary>
public sealed unsafe class MoeMatrix
{
    /// <summary>Describes a matrix; throws when the shape does not fit the format.</summary>
    /// <param name="name">Tensor name, used in error messages.</param>
    /// <param name="type">Weight format.</param>
    /// <param name="data">First byte of expert 0, row 0.</param>
    /// <param name="columns">Elements per row (ne[0]).</param>
    /// <param name="rows">Rows per expert (ne[1]).</param>
    /// <param name="experts">Number of experts (ne[2]; 1 for a plain matrix).</param>
    /// <param name="expertStride">Bytes from one expert to the next; 0 = rows·rowBytes (contiguous).</param>
    public MoeMatrix(string name, GgmlType type, byte* data, int columns, int rows, int experts = 1, long expertStride = 0)
    {
        Name = name ?? throw new ArgumentNullException(nameof(name));
        if (data == null)
        {
            throw new ArgumentNullException(nameof(data), $"{name}: no data");
        }

        if (!GgmlTypeInfo.TryGet((uint)type, out var info) || !CpuKernels.Supports(type))
        {
            throw new NotSupportedException($"{name}: weight type {(GgmlTypeInfo.TryGet((uint)type, out var i2) ? i2.Name : ((uint)type).ToString())} has no CPU kernel");
        }

        if (columns <= 0 || rows <= 0 || experts <= 0)
        {
            throw new ArgumentException($"{name}: shape [{columns}, {rows}, {experts}] must be positive");
        }

        if (columns % info.BlockSize != 0)
        {
            throw new ArgumentException($"{name}: row length {columns} is not a multiple of the {info.Name} block size {info.BlockSize}");
        }

        Type = type;
        Info = info;
        Data = data;
        Columns = columns;
        Rows = rows;
        Experts = experts;
        RowBytes = info.RowBytes(columns);
        ExpertStride = expertStride == 0 ? RowBytes * rows : expertStride;
        if (ExpertStride < RowBytes * rows)
        {
            throw new ArgumentException($"{name}: expert stride {ExpertStride} is smaller than one expert ({RowBytes * rows} bytes)");
        }
    }

    /// <summary>Tensor name.</summary>
    public string Name { get; }

    /// <summary>Weight format.</summary>
    public GgmlType Type { get; }

    /// <summary>Format facts.</summary>
    public GgmlTypeInfo Info { get; }

    /// <summary>Expert 0, row 0.</summary>
    public byte* Data { get; }

    /// <summary>Elements per row (the reduction length).</summary>
    public int Columns { get; }

    /// <summary>Rows per expert (output features).</summary>
    public int Rows { get; }

    /// <summary>Experts in the stack.</summary>
    public int Experts { get; }

    /// <summary>Bytes of one row.</summary>
    public long RowBytes { get; }

    /// <summary>Bytes from one expert to the next.</summary>
    public long ExpertStride { get; }

    /// <summary>Bytes of weights this matrix reads for one expert.</summary>
    public long ExpertBytes => RowBytes * Rows;

    /// <summary>First row of expert <paramref name="e"/>.</summary>
    public byte* Expert(int e) => Data + e * ExpertStride;

    /// <summary>
    /// Splits a fused gate||up stack ([n_embd, 2·n_ff, n_expert], gate rows first) into its two halves without copying.
    /// </summary>
    public (MoeMatrix Gate, MoeMatrix Up) SplitGateUp()
    {
        if (Rows % 2 != 0)
        {
            throw new ArgumentException($"{Name}: a fused gate/up tensor needs an even row count, got {Rows}");
        }

        int f = Rows / 2;
        return (new MoeMatrix(Name + "[gate]", Type, Data, Columns, f, Experts, ExpertStride),
                new MoeMatrix(Name + "[up]", Type, Data + f * RowBytes, Columns, f, Experts, ExpertStride));
    }
}
