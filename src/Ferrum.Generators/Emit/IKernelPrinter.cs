using Ferrum.Generators.Helpers;
using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit;

/// <summary>
/// An emitter for one backend. The pipeline asks every printer which formats it has kernel bodies for and plans
/// kernels only for those; a backend issue adds formats by extending its printer, nothing else changes.
/// </summary>
internal interface IKernelPrinter
{
    KernelTarget Target { get; }

    /// <summary>True when this printer can write a kernel for <paramref name="format"/> (generic and specialized).</summary>
    bool Supports(GgmlType format);
}

/// <summary>A CPU printer: writes the members of the kernel's C# class (constants and a MatVec method matching Ferrum.Kernels.MatVecKernel).</summary>
internal interface ICSharpKernelPrinter : IKernelPrinter
{
    void PrintMembers(KernelItem kernel, CodeWriter writer);
}

/// <summary>A GPU printer: returns the kernel's source text (OpenCL C or MSL) with the shape constants baked in.</summary>
internal interface ISourceKernelPrinter : IKernelPrinter
{
    /// <summary>File extension of the source when written out by `ferrum kernels --emit` (".cl", ".metal").</summary>
    string Extension { get; }

    string PrintSource(KernelItem kernel);
}
