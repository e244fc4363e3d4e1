using System.Runtime.InteropServices;

namespace Ferrum.Backends.OpenCL;

/// <summary>What an <see cref="OpenCLHandle"/> releases.</summary>
internal enum OpenCLHandleKind
{
    Context,
    Queue,
    Program,
    Kernel,
    Memory,
}

/// <summary>
/// One OpenCL object reference (context, queue, program, kernel, buffer), released by Dispose or by the finalizer when
/// its owner is dropped undisposed. OpenCL counts references, so the order in which finalizers release objects does not
/// matter (a buffer keeps its context alive inside the driver).
/// </summary>
internal sealed class OpenCLHandle : SafeHandle
{
    public OpenCLHandle(nint handle, OpenCLHandleKind kind)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        Kind = kind;
        SetHandle(handle);
    }

    public OpenCLHandleKind Kind { get; }

    /// <summary>The raw handle for API calls; the owner guarantees it is not released meanwhile.</summary>
    public nint Value => handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        var cl = OpenCLApi.Instance;
        int err = Kind switch
        {
            OpenCLHandleKind.Context => cl.ReleaseContext(handle),
            OpenCLHandleKind.Queue => cl.ReleaseCommandQueue(handle),
            OpenCLHandleKind.Program => cl.ReleaseProgram(handle),
            OpenCLHandleKind.Kernel => cl.ReleaseKernel(handle),
            _ => cl.ReleaseMemObject(handle),
        };
        return err == 0;
    }
}
