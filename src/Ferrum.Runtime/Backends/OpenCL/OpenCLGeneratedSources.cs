using Ferrum.Kernels;

namespace Ferrum.Backends.OpenCL;

/// <summary>The OpenCL programs the source generator emitted from kernels.yaml (the <see cref="KernelSourceCatalog"/>).</summary>
public static class OpenCLGeneratedSources
{
    /// <summary>
    /// Looks programs up in the catalog: for a shape, any OpenCL source of the format with those rows and row length
    /// (every batch variant holds the same MoE kernels); for rows = rowLength = 0, the format's shape-generic one.
    /// </summary>
    public static OpenCLKernelSources Catalog { get; } = (format, rows, rowLength) =>
    {
        foreach (var s in KernelSourceCatalog.For(KernelTarget.OpenCL))
        {
            var k = s.Key;
            if (k.Format == format && (rows == 0 && rowLength == 0 ? k.IsGeneric : k.Rows == rows && k.RowLength == rowLength))
            {
                return s.Text;
            }
        }

        return null;
    };
}
