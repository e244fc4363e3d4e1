namespace Ferrum.Backends.Metal;

/// <summary>An MTLDevice (the system default GPU), and the objects it creates.</summary>
public sealed unsafe class MetalDevice : IDisposable
{
    private readonly ObjCHandle _handle;

    private MetalDevice(nint handle)
    {
        _handle = new ObjCHandle(handle, nameof(MetalDevice));
        Name = ObjC.ToManaged(ObjC.Id(handle, ObjC.Sel("name"))) ?? "unknown Metal device";
        MaxBufferLength = (long)ObjC.UInt(handle, ObjC.Sel("maxBufferLength"));
    }

    /// <summary>The device name, e.g. "Apple M2 Pro".</summary>
    public string Name { get; }

    /// <summary>Largest buffer the device can create, in bytes.</summary>
    public long MaxBufferLength { get; }

    /// <summary>MTLGPUFamilyApple7 (M1 and later): simdgroup matrices, which the prefill kernels use.</summary>
    public const int GpuFamilyApple7 = 1007;

    /// <summary>supportsFamily: (an MTLGPUFamily value).</summary>
    public bool SupportsFamily(int family) => ObjC.Bool(Handle, ObjC.Sel("supportsFamily:"), family) != 0;

    /// <summary>Page size for zero-copy buffers (16 KiB on Apple Silicon).</summary>
    public static long PageSize => Environment.SystemPageSize;

    internal nint Handle => _handle.Value;

    /// <summary>The system default device; PlatformNotSupportedException off macOS, InvalidOperationException when there is no GPU.</summary>
    public static MetalDevice CreateSystemDefault()
    {
        MetalPlatform.EnsureSupported();
        var h = MetalPlatform.MTLCreateSystemDefaultDevice();
        return h == 0 ? throw new InvalidOperationException("MTLCreateSystemDefaultDevice returned no device") : new MetalDevice(h);
    }

    /// <summary>Compiles MSL source (newLibraryWithSource:options:error:); the compiler's message on failure.</summary>
    public MetalLibrary CompileLibrary(string source, string name)
    {
        ArgumentNullException.ThrowIfNull(source);
        var src = ObjC.NewString(source);
        try
        {
            nint error = 0;
            var lib = ObjC.Id(Handle, ObjC.Sel("newLibraryWithSource:options:error:"), src, 0, &error);
            if (lib == 0)
            {
                throw new InvalidOperationException($"Metal could not compile {name}: {ObjC.Describe(error, "no error description")}");
            }

            return new MetalLibrary(this, lib, name);
        }
        finally
        {
            ObjC.Release(src);
        }
    }

    /// <summary>A shared (CPU- and GPU-visible) buffer of <paramref name="length"/> bytes (newBufferWithLength:options:).</summary>
    public MetalBuffer NewBuffer(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var b = ObjC.Id(Handle, ObjC.Sel("newBufferWithLength:options:"), (nuint)length, MetalBuffer.StorageModeShared);
        return b == 0 ? throw new InvalidOperationException($"Metal could not allocate a {length}-byte buffer") : new MetalBuffer(b, 0, length);
    }

    /// <summary>
    /// Wraps existing memory without copying (newBufferWithBytesNoCopy:length:options:deallocator:): the range is widened
    /// to whole pages, so it must lie in a page-granular allocation such as a file mapping, which must outlive the buffer.
    /// <see cref="MetalBuffer.Offset"/> is where <paramref name="data"/> starts inside it.
    /// </summary>
    public MetalBuffer WrapNoCopy(byte* data, long length, string what)
    {
        var (start, len, offset) = MetalPages.Cover((nint)data, length, PageSize);
        if (len > MaxBufferLength)
        {
            throw new InvalidOperationException($"{what}: {len} bytes exceed the device's largest buffer ({MaxBufferLength} bytes)");
        }

        var b = ObjC.Id(Handle, ObjC.Sel("newBufferWithBytesNoCopy:length:options:deallocator:"), (void*)start, (nuint)len, MetalBuffer.StorageModeShared, 0);
        return b == 0 ? throw new InvalidOperationException($"{what}: Metal could not wrap {len} bytes at 0x{start:x} without copying") : new MetalBuffer(b, offset, length);
    }

    /// <summary>A command queue (newCommandQueue).</summary>
    public MetalCommandQueue NewCommandQueue()
    {
        var q = ObjC.Id(Handle, ObjC.Sel("newCommandQueue"));
        return q == 0 ? throw new InvalidOperationException("Metal could not create a command queue") : new MetalCommandQueue(q);
    }

    /// <summary>Releases the device (a SafeHandle: also released by its finalizer); harmless when repeated.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>A compiled MTLLibrary.</summary>
public sealed class MetalLibrary : IDisposable
{
    private readonly MetalDevice _device;
    private readonly ObjCHandle _handle;

    internal MetalLibrary(MetalDevice device, nint handle, string name)
    {
        _device = device;
        _handle = new ObjCHandle(handle, nameof(MetalLibrary));
        Name = name;
    }

    /// <summary>Name used in errors (the program name).</summary>
    public string Name { get; }

    /// <summary>A compute pipeline for one kernel function (newFunctionWithName:, newComputePipelineStateWithFunction:error:).</summary>
    public unsafe MetalPipeline CreatePipeline(string function)
    {
        var library = _handle.Value;
        var fname = ObjC.NewString(function);
        nint fn = 0;
        try
        {
            fn = ObjC.Id(library, ObjC.Sel("newFunctionWithName:"), fname);
            if (fn == 0)
            {
                throw new InvalidOperationException($"kernel function '{function}' not found in {Name}");
            }

            nint error = 0;
            var ps = ObjC.Id(_device.Handle, ObjC.Sel("newComputePipelineStateWithFunction:error:"), fn, &error);
            if (ps == 0)
            {
                throw new InvalidOperationException($"Metal could not build the pipeline of {function} in {Name}: {ObjC.Describe(error, "no error description")}");
            }

            return new MetalPipeline(ps, function);
        }
        finally
        {
            ObjC.Release(fn);
            ObjC.Release(fname);
        }
    }

    /// <summary>Releases the library (a SafeHandle: also released by its finalizer); harmless when repeated.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>An MTLComputePipelineState.</summary>
public sealed class MetalPipeline : IDisposable
{
    private readonly ObjCHandle _handle;

    internal MetalPipeline(nint handle, string function)
    {
        _handle = new ObjCHandle(handle, nameof(MetalPipeline));
        Function = function;
        MaxThreadsPerThreadgroup = (int)ObjC.UInt(handle, ObjC.Sel("maxTotalThreadsPerThreadgroup"));
        ThreadExecutionWidth = (int)ObjC.UInt(handle, ObjC.Sel("threadExecutionWidth"));
    }

    /// <summary>The kernel function.</summary>
    public string Function { get; }

    /// <summary>Most threads one threadgroup of this pipeline may have.</summary>
    public int MaxThreadsPerThreadgroup { get; }

    /// <summary>SIMD width (32 on Apple GPUs; the kernels assume it).</summary>
    public int ThreadExecutionWidth { get; }

    internal nint Handle => _handle.Value;

    /// <summary>Releases the object (a SafeHandle: also released by its finalizer); harmless when repeated.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>An MTLBuffer, or a view of one at an offset (a zero-copy wrap starts at a page boundary).</summary>
public sealed unsafe class MetalBuffer : IDisposable
{
    private readonly ObjCHandle _handle;

    /// <summary>MTLResourceStorageModeShared | MTLResourceCPUCacheModeDefaultCache.</summary>
    internal const nuint StorageModeShared = 0;

    internal MetalBuffer(nint handle, long offset, long length)
    {
        _handle = new ObjCHandle(handle, nameof(MetalBuffer));
        Offset = offset;
        Length = length;
    }

    /// <summary>Where the caller's data starts inside the MTLBuffer (bind with this offset).</summary>
    public long Offset { get; }

    /// <summary>Bytes of the caller's data.</summary>
    public long Length { get; }

    /// <summary>CPU address of the caller's data (shared storage).</summary>
    public byte* Contents => (byte*)ObjC.Id(Handle, ObjC.Sel("contents")) + Offset;

    internal nint Handle => _handle.Value;

    /// <summary>Releases the object (a SafeHandle: also released by its finalizer); harmless when repeated.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>An MTLCommandQueue.</summary>
public sealed class MetalCommandQueue : IDisposable
{
    private readonly ObjCHandle _handle;

    internal MetalCommandQueue(nint handle) => _handle = new ObjCHandle(handle, nameof(MetalCommandQueue));

    internal nint Handle => _handle.Value;

    /// <summary>A new command buffer (autoreleased: use it inside a <see cref="MetalAutoreleasePool"/>).</summary>
    public MetalCommandBuffer CommandBuffer()
    {
        var cb = ObjC.Id(Handle, ObjC.Sel("commandBuffer"));
        return cb == 0 ? throw new InvalidOperationException("Metal could not create a command buffer") : new MetalCommandBuffer(cb);
    }

    /// <summary>Releases the object (a SafeHandle: also released by its finalizer); harmless when repeated.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>An MTLCommandBuffer (autoreleased).</summary>
public sealed class MetalCommandBuffer
{
    private const nuint StatusError = 5;

    internal MetalCommandBuffer(nint handle) => Handle = handle;

    internal nint Handle { get; }

    /// <summary>A compute encoder with serial dispatch: each dispatch sees the previous one's writes.</summary>
    public MetalComputeEncoder ComputeEncoder()
    {
        var e = ObjC.Id(Handle, ObjC.Sel("computeCommandEncoder"));
        return e == 0 ? throw new InvalidOperationException("Metal could not create a compute encoder") : new MetalComputeEncoder(e);
    }

    /// <summary>Commits, waits, and throws with the command buffer's error when the GPU reports one.</summary>
    public void CommitAndWait()
    {
        ObjC.Void(Handle, ObjC.Sel("commit"));
        ObjC.Void(Handle, ObjC.Sel("waitUntilCompleted"));
        if (ObjC.UInt(Handle, ObjC.Sel("status")) == StatusError)
        {
            throw new InvalidOperationException("Metal command buffer failed: " + ObjC.Describe(ObjC.Id(Handle, ObjC.Sel("error")), "no error description"));
        }
    }
}

/// <summary>An MTLComputeCommandEncoder (autoreleased).</summary>
public sealed unsafe class MetalComputeEncoder
{
    internal MetalComputeEncoder(nint handle) => Handle = handle;

    internal nint Handle { get; }

    /// <summary>setComputePipelineState:.</summary>
    public void SetPipeline(MetalPipeline pipeline) => ObjC.Void(Handle, ObjC.Sel("setComputePipelineState:"), pipeline.Handle);

    /// <summary>setBuffer:offset:atIndex: at the buffer's own offset plus <paramref name="extraOffset"/>.</summary>
    public void SetBuffer(MetalBuffer buffer, int index, long extraOffset = 0) =>
        ObjC.Void(Handle, ObjC.Sel("setBuffer:offset:atIndex:"), buffer.Handle, (nuint)(buffer.Offset + extraOffset), (nuint)index);

    /// <summary>setBytes:length:atIndex: with a small struct (the kernel's constant argument block).</summary>
    public void SetBytes<T>(in T value, int index)
        where T : unmanaged
    {
        fixed (T* p = &value)
        {
            ObjC.Void(Handle, ObjC.Sel("setBytes:length:atIndex:"), p, (nuint)sizeof(T), (nuint)index);
        }
    }

    /// <summary>dispatchThreadgroups:threadsPerThreadgroup:.</summary>
    public void Dispatch(MTLSize threadgroups, MTLSize threadsPerThreadgroup) =>
        ObjC.Void(Handle, ObjC.Sel("dispatchThreadgroups:threadsPerThreadgroup:"), threadgroups, threadsPerThreadgroup);

    /// <summary>endEncoding.</summary>
    public void End() => ObjC.Void(Handle, ObjC.Sel("endEncoding"));
}

/// <summary>An Objective-C autorelease pool scope (command buffers and encoders are autoreleased objects).</summary>
public readonly struct MetalAutoreleasePool : IDisposable
{
    private readonly nint _pool;

    private MetalAutoreleasePool(nint pool) => _pool = pool;

    /// <summary>Pushes a pool; dispose pops it.</summary>
    public static MetalAutoreleasePool Push()
    {
        MetalPlatform.EnsureSupported();
        return new MetalAutoreleasePool(ObjC.objc_autoreleasePoolPush());
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_pool != 0)
        {
            ObjC.objc_autoreleasePoolPop(_pool);
        }
    }
}
