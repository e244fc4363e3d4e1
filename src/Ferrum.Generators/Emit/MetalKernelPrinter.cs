using System.Text;
using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit;

/// <summary>
/// Metal Shading Language kernels. For now a straightforward q8_0 reference mat-vec (one thread per output); the
/// Metal issue replaces it with tuned kernels and adds formats. Grid: (rows, batch). Buffers: 0 weights, 1 row
/// stride, 2 input, 3 output; generic kernels add 4 rows, 5 row length, 6 batch.
/// </summary>
internal sealed class MetalKernelPrinter : ISourceKernelPrinter
{
    public KernelTarget Target => KernelTarget.Metal;

    public string Extension => ".metal";

    public bool Supports(GgmlType format) => format == GgmlType.Q8_0;

    public string PrintSource(KernelItem kernel)
    {
        var info = GgmlTypeInfo.Get(kernel.Format);
        var s = new StringBuilder();
        GpuKernelText.Header(s, kernel, "Metal");
        s.Append("#include <metal_stdlib>\n");
        s.Append("using namespace metal;\n\n");
        s.Append("constant constexpr int BLOCK_SIZE = ").Append(GpuKernelText.Int(info.BlockSize)).Append(";\n");
        s.Append("constant constexpr int BLOCK_BYTES = ").Append(GpuKernelText.Int(info.TypeSize)).Append(";\n");
        if (!kernel.IsGeneric)
        {
            s.Append("constant constexpr int ROWS = ").Append(GpuKernelText.Int(kernel.Rows)).Append(";\n");
            s.Append("constant constexpr int ROW_LENGTH = ").Append(GpuKernelText.Int(kernel.RowLength)).Append(";\n");
            s.Append("constant constexpr int BATCH = ").Append(GpuKernelText.Int(kernel.Batch)).Append(";\n");
        }

        s.Append('\n');
        s.Append("kernel void ").Append(kernel.EntryPoint).Append("(\n");
        s.Append("    device const uchar* weights [[buffer(0)]],\n");
        s.Append("    constant ulong& row_stride [[buffer(1)]],\n");
        s.Append("    device const float* input [[buffer(2)]],\n");
        s.Append("    device float* output [[buffer(3)]],\n");
        if (kernel.IsGeneric)
        {
            s.Append("    constant int& ROWS [[buffer(4)]],\n");
            s.Append("    constant int& ROW_LENGTH [[buffer(5)]],\n");
            s.Append("    constant int& BATCH [[buffer(6)]],\n");
        }

        s.Append("    uint2 gid [[thread_position_in_grid]])\n");
        s.Append("{\n");
        s.Append("    const int r = int(gid.x);\n");
        s.Append("    const int b = int(gid.y);\n");
        s.Append("    if (r >= ROWS || b >= BATCH)\n");
        s.Append("    {\n");
        s.Append("        return;\n");
        s.Append("    }\n\n");
        s.Append("    device const uchar* row = weights + ulong(r) * row_stride;\n");
        s.Append("    device const float* x = input + ulong(b) * ROW_LENGTH;\n");
        s.Append("    float sum = 0.0f;\n");
        s.Append("    // Walk the row block by block: scale first, then the block's quants against the matching activations.\n");
        s.Append("    for (int block = 0; block < ROW_LENGTH / BLOCK_SIZE; ++block)\n");
        s.Append("    {\n");
        s.Append("        device const uchar* p = row + block * BLOCK_BYTES;\n");
        s.Append("        const float d = float(*(device const half*)p);\n");
        s.Append("        device const char* q = (device const char*)(p + 2);\n");
        s.Append("        device const float* xs = x + block * BLOCK_SIZE;\n");
        s.Append("        float block_sum = 0.0f;\n");
        s.Append("        for (int i = 0; i < BLOCK_SIZE; ++i)\n");
        s.Append("        {\n");
        s.Append("            block_sum += float(q[i]) * xs[i];\n");
        s.Append("        }\n\n");
        s.Append("        sum += d * block_sum;\n");
        s.Append("    }\n\n");
        s.Append("    output[ulong(b) * ROWS + r] = sum;\n");
        s.Append("}\n");
        return s.ToString();
    }
}
