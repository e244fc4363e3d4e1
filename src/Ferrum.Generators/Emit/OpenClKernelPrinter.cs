using System.Text;
using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit;

/// <summary>
/// OpenCL C kernels. For now a straightforward q8_0 reference mat-vec (one work item per output); the OpenCL issue
/// replaces it with tuned kernels and adds formats. Work size: (rows, batch).
/// </summary>
internal sealed class OpenClKernelPrinter : ISourceKernelPrinter
{
    public KernelTarget Target => KernelTarget.OpenCL;

    public string Extension => ".cl";

    public bool Supports(GgmlType format) => format == GgmlType.Q8_0;

    public string PrintSource(KernelItem kernel)
    {
        var info = GgmlTypeInfo.Get(kernel.Format);
        var s = new StringBuilder();
        GpuKernelText.Header(s, kernel, "OpenCL C");
        s.Append("#define BLOCK_SIZE ").Append(GpuKernelText.Int(info.BlockSize)).Append('\n');
        s.Append("#define BLOCK_BYTES ").Append(GpuKernelText.Int(info.TypeSize)).Append('\n');
        if (!kernel.IsGeneric)
        {
            s.Append("#define ROWS ").Append(GpuKernelText.Int(kernel.Rows)).Append('\n');
            s.Append("#define ROW_LENGTH ").Append(GpuKernelText.Int(kernel.RowLength)).Append('\n');
            s.Append("#define BATCH ").Append(GpuKernelText.Int(kernel.Batch)).Append('\n');
        }

        s.Append('\n');
        s.Append("__kernel void ").Append(kernel.EntryPoint).Append("(\n");
        s.Append("    __global const uchar* weights,\n");
        s.Append("    const ulong row_stride,\n");
        s.Append("    __global const float* input,\n");
        s.Append(kernel.IsGeneric ? "    __global float* output,\n" : "    __global float* output)\n");
        if (kernel.IsGeneric)
        {
            s.Append("    const int ROWS,\n");
            s.Append("    const int ROW_LENGTH,\n");
            s.Append("    const int BATCH)\n");
        }

        s.Append("{\n");
        s.Append("    const int r = (int)get_global_id(0);\n");
        s.Append("    const int b = (int)get_global_id(1);\n");
        s.Append("    if (r >= ROWS || b >= BATCH)\n");
        s.Append("    {\n");
        s.Append("        return;\n");
        s.Append("    }\n\n");
        s.Append("    __global const uchar* row = weights + (ulong)r * row_stride;\n");
        s.Append("    __global const float* x = input + (ulong)b * ROW_LENGTH;\n");
        s.Append("    float sum = 0.0f;\n");
        s.Append("    // Walk the row block by block: scale first, then the block's quants against the matching activations.\n");
        s.Append("    for (int block = 0; block < ROW_LENGTH / BLOCK_SIZE; ++block)\n");
        s.Append("    {\n");
        s.Append("        __global const uchar* p = row + block * BLOCK_BYTES;\n");
        s.Append("        const float d = vload_half(0, (__global const half*)p);\n");
        s.Append("        __global const char* q = (__global const char*)(p + 2);\n");
        s.Append("        __global const float* xs = x + block * BLOCK_SIZE;\n");
        s.Append("        float block_sum = 0.0f;\n");
        s.Append("        for (int i = 0; i < BLOCK_SIZE; ++i)\n");
        s.Append("        {\n");
        s.Append("            block_sum += (float)q[i] * xs[i];\n");
        s.Append("        }\n\n");
        s.Append("        sum += d * block_sum;\n");
        s.Append("    }\n\n");
        s.Append("    output[(ulong)b * ROWS + r] = sum;\n");
        s.Append("}\n");
        return s.ToString();
    }
}
