using System.Runtime.InteropServices;

namespace Ferrum.Backends.Metal;

/// <summary>
/// One owned Objective-C reference (a +1 from new…/create…), released with <c>release</c> by Dispose or by the finalizer
/// when its owner (MetalDevice, MetalLibrary, MetalPipeline, MetalBuffer, MetalCommandQueue) is dropped undisposed.
/// Metal objects count references, so release order across finalizers does not matter.
/// </summary>
internal sealed class ObjCHandle : SafeHandle
{
    public ObjCHandle(nint handle, string what)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        What = what;
        SetHandle(handle);
    }

    /// <summary>The owner's type name, for ObjectDisposedException.</summary>
    public string What { get; }

    /// <summary>The raw object; <see cref="ObjectDisposedException"/> once released.</summary>
    public nint Value => IsClosed || IsInvalid ? throw new ObjectDisposedException(What) : handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        ObjC.Release(handle);
        return true;
    }
}
