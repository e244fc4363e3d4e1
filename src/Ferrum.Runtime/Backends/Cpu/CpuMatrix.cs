using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The raw form of an <see cref="ExpertStack"/> that the CPU executor's hot loops read: row r of expert e at
/// <c>Data + e·ExpertStride + r·RowBytes</c>. Taken once, while the executor holds a lease on the memory.
/// </summary>
internal readonly unsafe struct CpuMatrix
{
    public CpuMatrix(ExpertStack stack)
    {
        if (stack.RowStride != stack.RowBytes)
        {
            throw new NotSupportedException($"'{stack.TensorName}': the CPU kernels need contiguous rows (row stride {stack.RowStride}, row {stack.RowBytes} bytes)");
        }

        Type = stack.Format;
        Data = stack.ExpertPointer(0);
        Columns = stack.RowLength;
        Rows = stack.Rows;
        RowBytes = stack.RowBytes;
        ExpertStride = stack.ExpertStride;
    }

    public GgmlType Type { get; }

    public byte* Data { get; }

    public int Columns { get; }

    public int Rows { get; }

    public long RowBytes { get; }

    public long ExpertStride { get; }

    public byte* Expert(int e) => Data + (e * ExpertStride);

    public static float* Floats(ExpertStack? vector) => vector == null ? null : (float*)vector.ExpertPointer(0);
}
