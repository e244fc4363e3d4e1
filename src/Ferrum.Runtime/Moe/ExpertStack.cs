using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Moe;

/// <summary>
/// The stacked experts of one projection (gate, up or down) in one format: <see cref="Experts"/> matrices of
/// <see cref="Rows"/> rows × <see cref="RowLength"/> elements, viewed zero-copy over the tensor bytes.
/// Row r of expert e starts at <c>Offset + e * ExpertStride + r * RowStride</c>. The expert stride is usually
/// <c>Rows * RowStride</c>; for a fused gate/up tensor it spans both projections.
/// </summary>
/// <remarks>Format-agnostic base; <see cref="ExpertStack{TQuant}"/> carries the format as a type.</remarks>
public abstract unsafe class ExpertStack
{
    private protected ExpertStack(WeightBytes bytes, string tensorName, GgmlType format, long offset, int experts, int rows, int rowLength, long rowStride, long expertStride)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(tensorName);
        var info = GgmlTypeInfo.Get(format);
        if (experts < 1 || rows < 1 || rowLength < 1)
        {
            throw new ArgumentException($"expert stack of '{tensorName}': experts ({experts}), rows ({rows}) and row length ({rowLength}) must be positive");
        }

        if (rowLength % info.BlockSize != 0)
        {
            throw new ArgumentException($"expert stack of '{tensorName}': row length {rowLength} is not a multiple of the {info.Name} block size {info.BlockSize}");
        }

        var rowBytes = info.RowBytes(rowLength);
        if (rowStride < rowBytes || expertStride < (long)rows * rowStride || offset < 0)
        {
            throw new ArgumentException($"expert stack of '{tensorName}': row stride {rowStride} / expert stride {expertStride} / offset {offset} do not fit {rows} rows of {rowBytes} bytes");
        }

        // The last byte read is the end of the last row of the last expert; it must lie inside the tensor.
        var end = offset + ((long)(experts - 1) * expertStride) + ((long)(rows - 1) * rowStride) + rowBytes;
        if (end > bytes.Length)
        {
            throw new ArgumentException($"expert stack of '{tensorName}': {experts} experts × {rows} rows need {end} bytes, but the tensor has {bytes.Length}");
        }

        Bytes = bytes;
        TensorName = tensorName;
        Format = format;
        Offset = offset;
        Experts = experts;
        Rows = rows;
        RowLength = rowLength;
        RowBytes = rowBytes;
        RowStride = rowStride;
        ExpertStride = expertStride;
    }

    /// <summary>The tensor bytes this stack views.</summary>
    public WeightBytes Bytes { get; }

    /// <summary>Name of the tensor, for messages.</summary>
    public string TensorName { get; }

    /// <summary>The weight format.</summary>
    public GgmlType Format { get; }

    /// <summary>Byte offset of expert 0 row 0 inside the tensor.</summary>
    public long Offset { get; }

    /// <summary>Number of experts.</summary>
    public int Experts { get; }

    /// <summary>Rows per expert.</summary>
    public int Rows { get; }

    /// <summary>Elements per row.</summary>
    public int RowLength { get; }

    /// <summary>Bytes of one packed row.</summary>
    public long RowBytes { get; }

    /// <summary>Bytes from one row to the next.</summary>
    public long RowStride { get; }

    /// <summary>Bytes from one expert to the next.</summary>
    public long ExpertStride { get; }

    /// <summary>Format facts (block size, bytes per block, activation type).</summary>
    public GgmlTypeInfo Info => GgmlTypeInfo.Get(Format);

    /// <summary>Bytes of one expert's rows, from its first row to the end of its last.</summary>
    public long ExpertBytes => ((Rows - 1) * RowStride) + RowBytes;

    /// <summary>
    /// A stack typed by the format marker of <paramref name="format"/> (e.g. <c>ExpertStack&lt;Q4_K&gt;</c>); the same checks
    /// as the typed constructor. <see cref="NotSupportedException"/> for a format without a marker type.
    /// </summary>
    public static ExpertStack Create(GgmlType format, WeightBytes bytes, string tensorName, long offset, int experts, int rows, int rowLength, long rowStride, long expertStride)
    {
        var marker = FormatMarkers.Of(format)
            ?? throw new NotSupportedException($"'{tensorName}': format {(GgmlTypeInfo.TryGet((uint)format, out var i) ? i.Name : ((uint)format).ToString())} is not supported (no format type)");
        try
        {
            return (ExpertStack)Activator.CreateInstance(typeof(ExpertStack<>).MakeGenericType(marker), bytes, tensorName, offset, experts, rows, rowLength, rowStride, expertStride)!;
        }
        catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException != null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }

    /// <summary>The rows of expert <paramref name="expert"/> (contiguous when <see cref="RowStride"/> equals <see cref="RowBytes"/>); works in tensors over 2 GiB.</summary>
    public ReadOnlySpan<byte> Expert(int expert)
    {
        CheckExpert(expert);
        return Bytes.Slice(Offset + (expert * ExpertStride), checked((int)(((Rows - 1) * RowStride) + RowBytes)));
    }

    /// <summary>Row <paramref name="row"/> of expert <paramref name="expert"/>.</summary>
    public ReadOnlySpan<byte> Row(int expert, int row)
    {
        CheckExpert(expert);
        if ((uint)row >= (uint)Rows)
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, $"'{TensorName}' has {Rows} rows per expert");
        }

        return Bytes.Slice(Offset + (expert * ExpertStride) + (row * RowStride), checked((int)RowBytes));
    }

    /// <summary>Pointer to row 0 of expert <paramref name="expert"/>, for kernels; valid while the owning file is open.</summary>
    public byte* ExpertPointer(int expert)
    {
        CheckExpert(expert);
        return Bytes.Pointer + Offset + (expert * ExpertStride); // Pointer throws when the owner is disposed
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{TensorName}: {Experts} experts × {Rows} rows × {RowLength} {GgmlTypeInfo.Get(Format).Name}";

    private void CheckExpert(int expert)
    {
        if ((uint)expert >= (uint)Experts)
        {
            throw new ArgumentOutOfRangeException(nameof(expert), expert, $"'{TensorName}' has {Experts} experts");
        }
    }
}

/// <summary>An <see cref="ExpertStack"/> whose format is the type <typeparamref name="TQuant"/>.</summary>
/// <typeparam name="TQuant">The format marker, e.g. <see cref="Q4_K"/>.</typeparam>
public sealed class ExpertStack<TQuant> : ExpertStack
    where TQuant : IQuantFormat
{
    /// <summary>Creates a view; throws <see cref="ArgumentException"/> when the geometry does not fit the bytes.</summary>
    /// <param name="bytes">The whole tensor.</param>
    /// <param name="tensorName">Tensor name, for messages.</param>
    /// <param name="offset">Byte offset of expert 0 row 0.</param>
    /// <param name="experts">Number of experts.</param>
    /// <param name="rows">Rows per expert.</param>
    /// <param name="rowLength">Elements per row (a multiple of the format's block size).</param>
    /// <param name="rowStride">Bytes between rows.</param>
    /// <param name="expertStride">Bytes between experts.</param>
    public ExpertStack(WeightBytes bytes, string tensorName, long offset, int experts, int rows, int rowLength, long rowStride, long expertStride)
        : base(bytes, tensorName, TQuant.Type, offset, experts, rows, rowLength, rowStride, expertStride)
    {
    }

    /// <summary>
    /// <paramref name="stack"/> typed as <typeparamref name="TQuant"/> (the same object when it already is);
    /// <see cref="ArgumentException"/> naming the tensor when its format is another.
    /// </summary>
    public static ExpertStack<TQuant> From(ExpertStack stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        if (stack is ExpertStack<TQuant> typed)
        {
            return typed;
        }

        if (stack.Format != TQuant.Type)
        {
            throw new ArgumentException($"'{stack.TensorName}' is {stack.Info.Name}, not {GgmlTypeInfo.Get(TQuant.Type).Name}");
        }

        return new ExpertStack<TQuant>(stack.Bytes, stack.TensorName, stack.Offset, stack.Experts, stack.Rows, stack.RowLength, stack.RowStride, stack.ExpertStride);
    }
}
