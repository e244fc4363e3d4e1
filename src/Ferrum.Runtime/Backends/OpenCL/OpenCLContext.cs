using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Silk.NET.OpenCL;

namespace Ferrum.Backends.OpenCL;

/// <summary>
/// An OpenCL context and in-order command queue on one device, with program builds cached on disk
/// (<see cref="OpenCLProgramCache"/>) and in memory.
/// </summary>
public sealed unsafe class OpenCLContext : IDisposable
{
    private readonly CL _cl;
    private readonly ConcurrentDictionary<string, OpenCLProgram> _programs = new();
    private readonly OpenCLHandle _context, _queue;
    private readonly List<Task> _background = [];
    private bool _disposed;

    /// <summary>Creates a context on <paramref name="device"/>; <paramref name="cache"/> defaults to <see cref="OpenCLProgramCache.Default"/>.</summary>
    public OpenCLContext(OpenCLDevice device, OpenCLProgramCache? cache = null)
    {
        Device = device ?? throw new ArgumentNullException(nameof(device));
        Cache = cache ?? OpenCLProgramCache.Default;
        _cl = OpenCLApi.Instance;
        int err;
        var handle = device.Handle;
        var context = _cl.CreateContext(null, 1, &handle, null, null, &err);
        OpenCLErrors.Check(err, $"clCreateContext on {device.DisplayName}");
        _context = new OpenCLHandle(context, OpenCLHandleKind.Context);
        var queue = _cl.CreateCommandQueue(context, device.Handle, (CommandQueueProperties)0, &err);
        if (err != 0)
        {
            _context.Dispose();
        }

        OpenCLErrors.Check(err, $"clCreateCommandQueue on {device.DisplayName}");
        _queue = new OpenCLHandle(queue, OpenCLHandleKind.Queue);
    }

    public OpenCLDevice Device { get; }

    public OpenCLProgramCache Cache { get; }

    internal nint Handle => _context.Value;

    internal nint Queue => _queue.Value;

    internal CL Api => _cl;

    /// <summary>
    /// Builds (or loads from the binary cache) a program; the same (source, options) is built once per context.
    /// Throws <see cref="OpenCLException"/> with the build log when the source does not compile.
    /// </summary>
    /// <remarks>
    /// With a cancellable <paramref name="cancellationToken"/>, the build runs on a pool thread and the call returns
    /// with <see cref="OperationCanceledException"/> as soon as the token fires: the driver's compile cannot be
    /// interrupted, so it finishes in the background and lands in the caches (a later call for the same program is then
    /// instant). The context stays usable; <see cref="Dispose"/> waits for such background builds.
    /// </remarks>
    public OpenCLProgram BuildProgram(string name, string source, string options = "", CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        var key = OpenCLProgramCache.Key(Device, source, options);
        if (_programs.TryGetValue(key, out var built) || !cancellationToken.CanBeCanceled)
        {
            return built ?? _programs.GetOrAdd(key, _ => Build(name, source, options, key));
        }

        Task<OpenCLProgram> task;
        lock (_background)
        {
            ThrowIfDisposed();
            _background.RemoveAll(t => t.IsCompleted);
            task = Task.Run(() => _programs.GetOrAdd(key, _ => Build(name, source, options, key)), CancellationToken.None);
            _background.Add(task);
        }

        try
        {
            task.Wait(cancellationToken);
            return task.Result;
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }

    /// <summary>A read-only device buffer with a copy of <paramref name="data"/>.</summary>
    public OpenCLBuffer CreateBuffer<T>(ReadOnlySpan<T> data)
        where T : unmanaged
    {
        ThrowIfDisposed();
        fixed (T* p = data)
        {
            return CreateBuffer(p, (long)data.Length * sizeof(T), hostMemoryOutlivesBuffer: false);
        }
    }

    /// <summary>
    /// A read-only buffer over host memory that stays valid and unchanged while the buffer lives (a memory-mapped
    /// GGUF tensor, a pinned array). On CPU devices it wraps the memory (CL_MEM_USE_HOST_PTR, no copy) when
    /// <paramref name="hostMemoryOutlivesBuffer"/> is true; otherwise the bytes are copied to the device.
    /// </summary>
    public OpenCLBuffer CreateBuffer(void* data, long bytes, bool hostMemoryOutlivesBuffer)
    {
        ThrowIfDisposed();
        if (bytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "an OpenCL buffer needs at least one byte");
        }

        var wrap = hostMemoryOutlivesBuffer && Device.IsCpu;
        const ulong ReadOnly = 1 << 2, UseHostPtr = 1 << 3, CopyHostPtr = 1 << 5;
        var flags = ReadOnly | (wrap ? UseHostPtr : CopyHostPtr);
        int err;
        var mem = _cl.CreateBuffer(Handle, (MemFlags)flags, (nuint)bytes, data, &err);
        OpenCLErrors.Check(err, $"clCreateBuffer of {bytes} bytes ({(wrap ? "host memory" : "copy")}) on {Device.Name}");
        return new OpenCLBuffer(this, mem, bytes, wrap);
    }

    /// <summary>A device-side read-write buffer of <paramref name="bytes"/> bytes (scratch, outputs).</summary>
    public OpenCLBuffer CreateBuffer(long bytes)
    {
        ThrowIfDisposed();
        if (bytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "an OpenCL buffer needs at least one byte");
        }

        int err;
        var mem = _cl.CreateBuffer(Handle, (MemFlags)1UL, (nuint)bytes, null, &err);
        OpenCLErrors.Check(err, $"clCreateBuffer of {bytes} bytes on {Device.Name}");
        return new OpenCLBuffer(this, mem, bytes, false);
    }

    /// <summary>Blocking write of <paramref name="data"/> to the start of <paramref name="buffer"/>.</summary>
    public void Write<T>(OpenCLBuffer buffer, ReadOnlySpan<T> data)
        where T : unmanaged
    {
        var bytes = (long)data.Length * sizeof(T);
        CheckRange(buffer, bytes);
        fixed (T* p = data)
        {
            OpenCLErrors.Check(_cl.EnqueueWriteBuffer(Queue, buffer.Handle, true, 0, (nuint)bytes, p, 0, null, null), "clEnqueueWriteBuffer");
        }
    }

    /// <summary>Blocking read of the start of <paramref name="buffer"/> into <paramref name="destination"/>.</summary>
    public void Read<T>(OpenCLBuffer buffer, Span<T> destination)
        where T : unmanaged
    {
        var bytes = (long)destination.Length * sizeof(T);
        CheckRange(buffer, bytes);
        fixed (T* p = destination)
        {
            OpenCLErrors.Check(_cl.EnqueueReadBuffer(Queue, buffer.Handle, true, 0, (nuint)bytes, p, 0, null, null), "clEnqueueReadBuffer");
        }
    }

    /// <summary>Waits until every queued command has finished.</summary>
    public void Finish() => OpenCLErrors.Check(_cl.Finish(Queue), "clFinish");

    /// <summary>Releases the programs, the queue and the context (SafeHandles: an undisposed context is released by its finalizers); harmless when repeated.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        Task[] pending;
        lock (_background)
        {
            _disposed = true;
            pending = [.. _background];
        }

        // Builds left running by a cancelled BuildProgram use the context: let them end first.
        try
        {
            Task.WaitAll(pending);
        }
        catch (AggregateException)
        {
            // Their errors went to nobody; the programs that did build are released below.
        }

        foreach (var p in _programs.Values)
        {
            p.Release();
        }

        _queue.Dispose();
        _context.Dispose();
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static void CheckRange(OpenCLBuffer buffer, long bytes)
    {
        if (bytes > buffer.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"transfer of {bytes} bytes exceeds the {buffer.Size}-byte buffer");
        }
    }

    private OpenCLProgram Build(string name, string source, string options, string key)
    {
        var cached = Cache.TryLoad(key);
        if (cached is not null)
        {
            var fromBinary = TryBuildFromBinary(cached, options);
            if (fromBinary != 0)
            {
                return new OpenCLProgram(this, name, fromBinary, loadedFromCache: true);
            }

            // A truncated or foreign cache entry: drop it and compile the source.
            Cache.Remove(key);
        }

        int err;
        var bytes = Encoding.UTF8.GetBytes(source);
        nint program;
        fixed (byte* s = bytes)
        {
            var str = s;
            var len = (nuint)bytes.Length;
            program = _cl.CreateProgramWithSource(Handle, 1, &str, &len, &err);
        }

        OpenCLErrors.Check(err, $"clCreateProgramWithSource ({name})");
        var device = Device.Handle;
        err = _cl.BuildProgram(program, 1, &device, options, null, null);
        if (err != 0)
        {
            var log = BuildLog(program);
            _cl.ReleaseProgram(program);
            throw new OpenCLException($"clBuildProgram of '{name}' on {Device.DisplayName}", err, log);
        }

        Cache.TryStore(key, ProgramBinary(program));
        return new OpenCLProgram(this, name, program, loadedFromCache: false);
    }

    private nint TryBuildFromBinary(byte[] binary, string options)
    {
        int err;
        int status;
        var device = Device.Handle;
        nint program;
        fixed (byte* b = binary)
        {
            var ptr = b;
            var len = (nuint)binary.Length;
            program = _cl.CreateProgramWithBinary(Handle, 1, &device, &len, &ptr, &status, &err);
        }

        if (err != 0 || status != 0)
        {
            if (program != 0)
            {
                _cl.ReleaseProgram(program);
            }

            return 0;
        }

        if (_cl.BuildProgram(program, 1, &device, options, null, null) != 0)
        {
            _cl.ReleaseProgram(program);
            return 0;
        }

        return program;
    }

    private string BuildLog(nint program)
    {
        nuint size = 0;
        if (_cl.GetProgramBuildInfo(program, Device.Handle, ProgramBuildInfo.BuildLog, 0, null, &size) != 0 || size == 0)
        {
            return string.Empty;
        }

        var bytes = new byte[(int)size];
        fixed (byte* b = bytes)
        {
            _cl.GetProgramBuildInfo(program, Device.Handle, ProgramBuildInfo.BuildLog, size, b, null);
        }

        return Encoding.UTF8.GetString(bytes).TrimEnd('\0');
    }

    private byte[]? ProgramBinary(nint program)
    {
        nuint size = 0;
        if (_cl.GetProgramInfo(program, ProgramInfo.BinarySizes, (nuint)sizeof(nuint), &size, null) != 0 || size == 0)
        {
            return null;
        }

        var binary = new byte[(int)size];
        fixed (byte* b = binary)
        {
            var ptr = b;
            if (_cl.GetProgramInfo(program, ProgramInfo.Binaries, (nuint)sizeof(nint), &ptr, null) != 0)
            {
                return null;
            }
        }

        return binary;
    }
}

/// <summary>A device buffer; released on Dispose.</summary>
public sealed class OpenCLBuffer : IDisposable
{
    private readonly OpenCLHandle _handle;

    internal OpenCLBuffer(OpenCLContext context, nint handle, long size, bool wrapsHostMemory)
    {
        _ = context;
        _handle = new OpenCLHandle(handle, OpenCLHandleKind.Memory);
        Size = size;
        WrapsHostMemory = wrapsHostMemory;
    }

    /// <summary>Bytes.</summary>
    public long Size { get; }

    /// <summary>True when the buffer is CL_MEM_USE_HOST_PTR over host memory (CPU devices) rather than a copy.</summary>
    public bool WrapsHostMemory { get; }

    internal nint Handle => _handle.Value;

    /// <summary>Releases the buffer (a SafeHandle: an undisposed buffer is released by its finalizer); harmless when repeated.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>A built program; kernels are created on demand and cached.</summary>
public sealed unsafe class OpenCLProgram
{
    private readonly OpenCLContext _context;
    private readonly ConcurrentDictionary<string, OpenCLHandle> _kernels = new();
    private readonly OpenCLHandle _handle;

    internal OpenCLProgram(OpenCLContext context, string name, nint handle, bool loadedFromCache)
    {
        _context = context;
        Name = name;
        _handle = new OpenCLHandle(handle, OpenCLHandleKind.Program);
        LoadedFromCache = loadedFromCache;
    }

    public string Name { get; }

    /// <summary>True when the program came from the on-disk binary cache instead of a source compile.</summary>
    public bool LoadedFromCache { get; }

    internal nint Handle => _handle.Value;

    /// <summary>The kernel of that name; <see cref="OpenCLException"/> (CL_INVALID_KERNEL_NAME) when the program has none.</summary>
    internal nint Kernel(string kernelName) => _kernels.GetOrAdd(kernelName, n =>
    {
        _context.ThrowIfDisposed();
        int err;
        var k = _context.Api.CreateKernel(Handle, n, &err);
        OpenCLErrors.Check(err, $"clCreateKernel '{n}' in program '{Name}'");
        return new OpenCLHandle(k, OpenCLHandleKind.Kernel);
    }).Value;

    internal void Release()
    {
        foreach (var k in _kernels.Values)
        {
            k.Dispose();
        }

        _handle.Dispose();
    }
}

/// <summary>Sets kernel arguments and enqueues NDRange launches.</summary>
internal static unsafe class OpenCLLaunch
{
    public static void Arg(OpenCLContext c, nint kernel, uint index, OpenCLBuffer buffer)
    {
        var h = buffer.Handle;
        OpenCLErrors.Check(c.Api.SetKernelArg(kernel, index, (nuint)sizeof(nint), &h), $"clSetKernelArg {index} (buffer)");
    }

    public static void Arg<T>(OpenCLContext c, nint kernel, uint index, T value)
        where T : unmanaged =>
        OpenCLErrors.Check(c.Api.SetKernelArg(kernel, index, (nuint)sizeof(T), &value), $"clSetKernelArg {index} ({typeof(T).Name})");

    /// <summary>Enqueues a 1-3 dimensional launch; local may be null (the implementation chooses).</summary>
    public static void Run(OpenCLContext c, nint kernel, string name, ReadOnlySpan<long> global, ReadOnlySpan<long> local)
    {
        var dims = global.Length;
        var g = stackalloc nuint[dims];
        var l = stackalloc nuint[dims];
        for (var i = 0; i < dims; i++)
        {
            g[i] = (nuint)global[i];
            if (!local.IsEmpty)
            {
                l[i] = (nuint)local[i];
            }
        }

        OpenCLErrors.Check(c.Api.EnqueueNdrangeKernel(c.Queue, kernel, (uint)dims, null, g, local.IsEmpty ? null : l, 0, null, null), $"clEnqueueNDRangeKernel {name}");
    }
}

/// <summary>
/// Program binaries on disk, keyed by a hash of source, build options, platform, device and driver version.
/// Location: FERRUM_OPENCL_CACHE, else $XDG_CACHE_HOME/ferrum/opencl, else ~/.cache/ferrum/opencl. An unwritable
/// directory only disables caching.
/// </summary>
public sealed class OpenCLProgramCache
{
    /// <summary>Environment variable overriding the cache directory.</summary>
    public const string EnvironmentVariable = "FERRUM_OPENCL_CACHE";

    /// <summary>Creates a cache in <paramref name="directory"/>.</summary>
    public OpenCLProgramCache(string directory) => Directory = directory;

    /// <summary>The default location (see the type remarks).</summary>
    public static OpenCLProgramCache Default { get; } = new(DefaultDirectory());

    public string Directory { get; }

    /// <summary>Cache key: hex SHA-256 over everything that changes the compiled binary.</summary>
    public static string Key(OpenCLDevice device, string source, string options)
    {
        var text = string.Join("\n\u0001", source, options, device.PlatformName, device.PlatformVersion, device.Name, device.Vendor, device.DriverVersion, device.Version);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>Path of the entry for <paramref name="key"/>.</summary>
    public string PathOf(string key) => Path.Combine(Directory, key + ".bin");

    internal byte[]? TryLoad(string key)
    {
        try
        {
            var path = PathOf(key);
            return File.Exists(path) ? File.ReadAllBytes(path) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    internal void TryStore(string key, byte[]? binary)
    {
        if (binary is null || binary.Length == 0)
        {
            return;
        }

        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var tmp = PathOf(key) + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(tmp, binary);
            File.Move(tmp, PathOf(key), overwrite: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    internal void Remove(string key)
    {
        try
        {
            File.Delete(PathOf(key));
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string DefaultDirectory()
    {
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env))
        {
            return env;
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrWhiteSpace(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "ferrum", "opencl");
    }
}
