using Ferrum.Generators.Helpers;
using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit;

/// <summary>
/// CPU kernels in C#, every one following the Ferrum.Kernels.MatVecKernel signature. q8_0: a scalar float mat-vec.
/// q4_K and q6_K: Ferrum's CPU backend kernels (Ferrum.Backends.Cpu, AVX-512/AVX2/scalar picked at run time),
/// instantiated for the declared row length as a type-level constant; the generated model types bind these
/// (CpuKernel) for their declared shapes, and every other shape runs the generic kernel.
/// </summary>
internal sealed class CSharpKernelPrinter : ICSharpKernelPrinter
{
    public KernelTarget Target => KernelTarget.Cpu;

    public bool Supports(GgmlType format) => format is GgmlType.Q8_0 or GgmlType.Q4_K or GgmlType.Q6_K;

    /// <summary>True when the generated class wraps the CPU backend's kernel (it has a CpuKernel that model types bind).</summary>
    internal static bool UsesCpuBackend(GgmlType format) => format is GgmlType.Q4_K or GgmlType.Q6_K;

    public void PrintMembers(KernelItem kernel, CodeWriter w)
    {
        if (UsesCpuBackend(kernel.Format))
        {
            PrintBackendMembers(kernel, w);
            return;
        }

        var info = GgmlTypeInfo.Get(kernel.Format);
        w.Line($"// {info.Name} block: {info.BlockSize} weights in {info.TypeSize} bytes = an f16 scale d, then {info.BlockSize} signed bytes q;");
        w.Line("// weight i of the block is d * q[i].");
        w.Line($"private const int BlockSize = {info.BlockSize};");
        w.Line($"private const int BlockBytes = {info.TypeSize};");
        w.Line();
        if (!kernel.IsGeneric)
        {
            w.Line("/// <summary>Rows of the weight matrix (outputs per token).</summary>");
            w.Line($"public const int Rows = {kernel.Rows};");
            w.Line();
            w.Line("/// <summary>Elements per row (inputs per token).</summary>");
            w.Line($"public const int RowLength = {kernel.RowLength};");
            w.Line();
            w.Line("/// <summary>Tokens per call.</summary>");
            w.Line($"public const int Batch = {kernel.Batch};");
            w.Line();
            w.Line("/// <summary>Blocks in one row.</summary>");
            w.Line("public const int BlocksPerRow = RowLength / BlockSize;");
            w.Line();
            w.Line("/// <summary>Bytes of one packed row.</summary>");
            w.Line("public const int RowBytes = BlocksPerRow * BlockBytes;");
            w.Line();
        }

        w.Line("/// <summary>");
        w.Line("/// <c>output[b * rows + r] = dot(row r, input[b * rowLength ..])</c> for every token b (see");
        w.Line("/// <see cref=\"Kernels::MatVecKernel\"/>).");
        w.Line("/// </summary>");
        using (w.Block("public static void MatVec(byte* weights, long rowStride, int rows, int rowLength, int batch, float* input, float* output)"))
        {
            if (kernel.IsGeneric)
            {
                using (w.Block("if (rows < 0 || batch < 1 || rowLength < 0 || rowLength % BlockSize != 0 || rowStride < (long)(rowLength / BlockSize) * BlockBytes)"))
                {
                    w.Line("throw new global::System.ArgumentException($\"kernel {Name}: invalid shape {rows}x{rowLength}, batch {batch}, row stride {rowStride} (row length must be a multiple of {BlockSize})\");");
                }

                w.Line();
                w.Line("var blocksPerRow = rowLength / BlockSize;");
            }
            else
            {
                w.Line("// The shape is compiled in; a call with another shape fails instead of reading past the rows.");
                using (w.Block("if (rows != Rows || rowLength != RowLength || batch != Batch || rowStride < RowBytes)"))
                {
                    w.Line("throw new global::System.ArgumentException($\"kernel {Name} is specialized for {Rows}x{RowLength}, batch {Batch}; called with {rows}x{rowLength}, batch {batch}, row stride {rowStride}\");");
                }
            }

            w.Line();
            w.Line("// One weight row at a time; every token of the batch reuses it while it is in cache.");
            var rows = kernel.IsGeneric ? "rows" : "Rows";
            var batch = kernel.IsGeneric ? "batch" : "Batch";
            var length = kernel.IsGeneric ? "rowLength" : "RowLength";
            var blocks = kernel.IsGeneric ? "blocksPerRow" : "BlocksPerRow";
            using (w.Block($"for (var r = 0; r < {rows}; r++)"))
            {
                w.Line("var row = weights + (r * rowStride);");
                using (w.Block($"for (var b = 0; b < {batch}; b++)"))
                {
                    w.Line($"output[((long)b * {rows}) + r] = Dot(row, input + ((long)b * {length}), {blocks});");
                }
            }
        }

        w.Line();
        w.Line("/// <summary>Dot product of one packed row with <paramref name=\"blocks\"/> × BlockSize activations.</summary>");
        using (w.Block("private static float Dot(byte* row, float* x, int blocks)"))
        {
            w.Line("var sum = 0f;");
            using (w.Block("for (var block = 0; block < blocks; block++)"))
            {
                w.Line("var p = row + ((long)block * BlockBytes);");
                w.Line("var d = (float)global::System.Runtime.CompilerServices.Unsafe.ReadUnaligned<global::System.Half>(p);");
                w.Line("var q = (sbyte*)(p + 2);");
                w.Line("var xs = x + ((long)block * BlockSize);");
                w.Line("var blockSum = 0f;");
                using (w.Block("for (var i = 0; i < BlockSize; i++)"))
                {
                    w.Line("blockSum += q[i] * xs[i];");
                }

                w.Line();
                w.Line("sum += d * blockSum;");
            }

            w.Line();
            w.Line("return sum;");
        }
    }

    // q4_K / q6_K: delegate to the CPU backend's SIMD kernel; the row length becomes a type the JIT sees as a constant.
    private static void PrintBackendMembers(KernelItem kernel, CodeWriter w)
    {
        var info = GgmlTypeInfo.Get(kernel.Format);
        var format = $"Quant::GgmlType.{kernel.Format}";
        w.Line($"// {info.Name}: Ferrum's CPU backend kernel; activations are quantized once per token to {GgmlTypeInfo.Get(info.ActivationType).Name}.");
        if (!kernel.IsGeneric)
        {
            w.Line("/// <summary>Rows of the weight matrix (outputs per token).</summary>");
            w.Line($"public const int Rows = {kernel.Rows};");
            w.Line();
            w.Line("/// <summary>Elements per row (inputs per token).</summary>");
            w.Line($"public const int RowLength = {kernel.RowLength};");
            w.Line();
            w.Line("/// <summary>Tokens per call.</summary>");
            w.Line($"public const int Batch = {kernel.Batch};");
            w.Line();
            w.Line("/// <summary>Bytes of one packed row.</summary>");
            w.Line($"public const int RowBytes = RowLength / {info.BlockSize} * {info.TypeSize};");
            w.Line();
            w.Line("/// <summary>The row length as a type: the backend kernel is instantiated with it as a JIT-time constant.</summary>");
            using (w.Block("private struct FixedRowLength : global::Ferrum.Backends.Cpu.IFixedRowLength"))
            {
                w.Line("public static int Value => RowLength;");
            }

            w.Line();
            w.Line("/// <summary>The backend kernel: specialized for <see cref=\"RowLength\"/> where the machine has that path, else generic.</summary>");
            w.Line($"internal static readonly global::Ferrum.Backends.Cpu.CpuMatKernel CpuKernel = global::Ferrum.Backends.Cpu.CpuMatVec.KernelFor<FixedRowLength>({format});");
        }
        else
        {
            w.Line("/// <summary>The backend's shape-generic kernel at this machine's SIMD level.</summary>");
            w.Line($"internal static readonly global::Ferrum.Backends.Cpu.CpuMatKernel CpuKernel = global::Ferrum.Backends.Cpu.CpuKernels.Get({format});");
        }

        w.Line();
        w.Line("/// <summary>");
        w.Line("/// <c>output[b * rows + r] = dot(row r, input[b * rowLength ..])</c> for every token b (see");
        w.Line("/// <see cref=\"Kernels::MatVecKernel\"/>).");
        w.Line("/// </summary>");
        using (w.Block("public static void MatVec(byte* weights, long rowStride, int rows, int rowLength, int batch, float* input, float* output)"))
        {
            if (!kernel.IsGeneric)
            {
                w.Line("// The shape is compiled in; a call with another shape fails instead of reading past the rows.");
                using (w.Block("if (rows != Rows || rowLength != RowLength || batch != Batch || rowStride < RowBytes)"))
                {
                    w.Line("throw new global::System.ArgumentException($\"kernel {Name} is specialized for {Rows}x{RowLength}, batch {Batch}; called with {rows}x{rowLength}, batch {batch}, row stride {rowStride}\");");
                }

                w.Line();
            }

            w.Line("global::Ferrum.Backends.Cpu.CpuMatVec.Run(CpuKernel, weights, rowStride, rows, rowLength, batch, input, output);");
        }
    }
}
