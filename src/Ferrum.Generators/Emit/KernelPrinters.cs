using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;

namespace Ferrum.Generators.Emit;

/// <summary>The printer of each target (plug new emitters in here).</summary>
internal static class KernelPrinters
{
    public static readonly ICSharpKernelPrinter Cpu = new CSharpKernelPrinter();

    public static readonly ISourceKernelPrinter OpenCL = new OpenClKernelPrinter();

    public static readonly ISourceKernelPrinter Metal = new MetalKernelPrinter();

    public static IKernelPrinter For(KernelTarget target) => target switch
    {
        KernelTarget.OpenCL => OpenCL,
        KernelTarget.Metal => Metal,
        _ => Cpu,
    };

    public static bool Supports(KernelItem kernel) => For(kernel.Target).Supports(kernel.Format);
}
