namespace Ferrum.Kernels;

/// <summary>A backend kernels are generated for (the <c>targets</c> of kernels.yaml).</summary>
public enum KernelTarget
{
    /// <summary>C# kernels run on the CPU.</summary>
    Cpu,

    /// <summary>OpenCL C source.</summary>
    OpenCL,

    /// <summary>Metal Shading Language source.</summary>
    Metal,
}
