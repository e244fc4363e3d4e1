using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Models;

/// <summary>
/// A 2-D weight of the file (ggml shape [columns, rows]) viewed zero-copy, with the CPU kernel that multiplies it by
/// activations quantized to its activation type (Q8_K/Q8_0/Q8_1 as ggml does, f32 for float weights).
/// </summary>
internal sealed unsafe class DenseMatrix
{
    private DenseMatrix(string name, GgmlType type, byte* data, int columns, int rows, long rowBytes, CpuMatKernel kernel)
    {
        Name = name;
        Type = type;
        Data = data;
        Columns = columns;
        Rows = rows;
        RowBytes = rowBytes;
        Kernel = kernel;
    }

    public string Name { get; }

    public GgmlType Type { get; }

    public byte* Data { get; }

    /// <summary>Row length (ggml ne0): the input width.</summary>
    public int Columns { get; }

    /// <summary>Number of rows (ggml ne1): the output width.</summary>
    public int Rows { get; }

    public long RowBytes { get; }

    public CpuMatKernel Kernel { get; }

    /// <summary>The activation type inputs must be quantized to.</summary>
    public GgmlType ActivationType => Kernel.ActivationType;

    /// <summary>Views tensor <paramref name="name"/>, checking it is [columns, rows] in a format the CPU runs.</summary>
    public static DenseMatrix Load(GgufFile file, string name, int columns, int rows)
    {
        if (!file.TryGetTensor(name, out var t))
        {
            throw new GgufException($"{file.Path}: required tensor '{name}' is missing");
        }

        if (t.Dimensions != 2 || t.Shape[0] != columns || t.Shape[1] != rows)
        {
            throw new GgufException($"{file.Path}: tensor '{name}' has shape {t.ShapeString}, expected [{columns}, {rows}]");
        }

        if (!CpuKernels.Supports(t.Type))
        {
            throw new GgufException($"{file.Path}: tensor '{name}' is {t.TypeInfo.Name}, which the CPU backend has no kernel for");
        }

        if (columns % t.TypeInfo.BlockSize != 0)
        {
            throw new GgufException($"{file.Path}: tensor '{name}': row length {columns} is not a multiple of the {t.TypeInfo.Name} block size {t.TypeInfo.BlockSize}");
        }

        return new DenseMatrix(name, t.Type, file.GetTensorPointer(t), columns, rows, t.RowBytes, CpuKernels.Get(t.Type));
    }

    /// <summary>Reads an f32 vector tensor of <paramref name="elements"/> values (norm weights, biases); null when optional and absent.</summary>
    public static float* Vector(GgufFile file, string name, int elements, bool required)
    {
        if (!file.TryGetTensor(name, out var t))
        {
            return required ? throw new GgufException($"{file.Path}: required tensor '{name}' is missing") : null;
        }

        if (t.Type != GgmlType.F32 || t.ElementCount != elements || t.Dimensions != 1)
        {
            throw new GgufException($"{file.Path}: tensor '{name}' must be a 1-D f32 vector of {elements} elements, found {t.TypeInfo.Name} {t.ShapeString}");
        }

        return (float*)file.GetTensorPointer(t);
    }
}
