using System.Globalization;
using Ferrum.Generators.Manifest;
using Ferrum.Quantization;

namespace Ferrum.Generators.Models;

/// <summary>
/// One kernel to emit: a mat-vec over rows of <see cref="RowLength"/> elements in <see cref="Format"/>, for
/// <see cref="Target"/>. A specialized kernel bakes in <see cref="Rows"/>, <see cref="RowLength"/> and
/// <see cref="Batch"/> (token count); a generic one (<see cref="IsGeneric"/>, all three zero) takes them at run time.
/// </summary>
internal sealed record KernelItem(KernelTarget Target, GgmlType Format, int Rows, int RowLength, int Batch)
{
    public bool IsGeneric => Rows == 0;

    public string FormatName => GgmlTypeInfo.Get(Format).Name;

    /// <summary>"768x2048.B1" or "Generic": the part of every name that identifies the shape.</summary>
    public string ShapeTag => IsGeneric
        ? "Generic"
        : string.Format(CultureInfo.InvariantCulture, "{0}x{1}.B{2}", Rows, RowLength, Batch);

    /// <summary>Stable, readable hint name, e.g. Ferrum.Kernels.Cpu.Q8_0.768x2048.B1.g.cs.</summary>
    public string HintName => $"Ferrum.Kernels.{Target}.{Format}.{ShapeTag}.g.cs";

    /// <summary>The generated C# class, e.g. Cpu_Q8_0_768x2048_B1.</summary>
    public string ClassName => $"{Target}_{Format}_{ShapeTag.Replace('.', '_')}";

    /// <summary>Kernel name in the registry and catalog, e.g. "q8_0/768x2048/b1" (target listed separately).</summary>
    public string KernelName => IsGeneric
        ? $"{FormatName}/generic"
        : string.Format(CultureInfo.InvariantCulture, "{0}/{1}x{2}/b{3}", FormatName, Rows, RowLength, Batch);

    /// <summary>Entry point for OpenCL C and MSL, e.g. ferrum_q8_0_768x2048_b1.</summary>
    public string EntryPoint => IsGeneric
        ? $"ferrum_{FormatName.ToLowerInvariant()}_generic"
        : string.Format(CultureInfo.InvariantCulture, "ferrum_{0}_{1}x{2}_b{3}", FormatName.ToLowerInvariant(), Rows, RowLength, Batch);
}
