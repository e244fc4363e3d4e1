using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Ferrum.Gguf;

/// <summary>
/// A GGUF file mapped read-only into memory. <see cref="Open(string)"/> parses and validates the whole header
/// (metadata and tensor infos) and reads no tensor bytes; tensors are zero-copy views over the mapping.
/// </summary>
/// <remarks>
/// Lifetime: every accessor checks that the file is not disposed and throws <see cref="ObjectDisposedException"/>
/// otherwise. A span or pointer obtained before <see cref="Dispose"/> cannot be tracked and must not be used after it;
/// code that needs the mapping to survive a concurrent Dispose takes a <see cref="GgufMappingLease"/>
/// (<see cref="AcquireLease"/>): the memory is unmapped only when the file is disposed and every lease released.
/// </remarks>
public sealed unsafe class GgufFile : IDisposable
{
    private readonly GgufHeader _header;
    private readonly MemoryMappedFile? _mmf;
    private readonly MemoryMappedViewAccessor? _view;
    private MemoryHandle _pin;
    private readonly byte* _base;
    private readonly Backends.Cpu.NativeArenaHandle? _copy;
    private int _refs = 1; // the owner's reference plus one per live lease
    private int _disposed;

    private GgufFile(string path, byte* data, long size, MemoryMappedFile? mmf, MemoryMappedViewAccessor? view, MemoryHandle pin, Backends.Cpu.NativeArenaHandle? copy = null)
    {
        Path = path;
        _copy = copy;
        IsMapped = mmf != null;
        FileSize = size;
        _base = data;
        _mmf = mmf;
        _view = view;
        _pin = pin;
        try
        {
            _header = GgufParser.Parse(data, size, path);
        }
        catch
        {
            Unmap();
            throw;
        }

        Metadata = new GgufMetadata(_header.Entries, _header.EntriesByKey, path);
        Architecture = Metadata.TryGetValue("general.architecture", out var arch) && arch.Type == GgufValueType.String ? arch.AsString() : null;
    }

    /// <summary>The path the file was opened from (or the name given to an in-memory buffer).</summary>
    public string Path { get; }

    /// <summary>GGUF version: 2 or 3.</summary>
    public int Version => _header.Version;

    /// <summary>general.alignment, or 32 when absent.</summary>
    public int Alignment => _header.Alignment;

    /// <summary>Absolute file offset of the data section (aligned when the file has tensors, as in ggml).</summary>
    public long DataOffset => _header.DataOffset;

    public long FileSize { get; }

    public GgufMetadata Metadata { get; }

    /// <summary>Tensors in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors => _header.Tensors;

    /// <summary>general.architecture, or null when absent or not a string.</summary>
    public string? Architecture { get; }

    /// <summary>True once <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>True when the tensors are read through a memory mapping of the file (false: a private copy in memory).</summary>
    public bool IsMapped { get; }

    /// <summary>Maps <paramref name="path"/> read-only and validates its header; <see cref="GgufFormatException"/> if malformed.</summary>
    /// <remarks>
    /// The mapping reads the file lazily: if another process truncates or rewrites the file while it is mapped, touching
    /// the lost pages ends the process with SIGBUS (a bus error on macOS) — no exception can be caught. For files that may
    /// change, open with <see cref="GgufOpenOptions.NoMmap"/>.
    /// </remarks>
    public static GgufFile Open(string path) => Open(path, GgufOpenOptions.Default);

    /// <summary>
    /// Opens <paramref name="path"/> as <paramref name="options"/> say: mapped (the default), or read whole into native
    /// memory owned by the file object (<see cref="GgufOpenOptions.NoMmap"/>, llama.cpp's --no-mmap), which later changes
    /// to the file cannot affect. Leases and disposal work the same either way.
    /// </summary>
    /// <exception cref="GgufException">the path is a directory, or the header is malformed.</exception>
    public static GgufFile Open(string path, GgufOpenOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        if (Directory.Exists(path))
        {
            throw new GgufException($"{path} is a directory, not a GGUF file");
        }

        if (options.NoMmap)
        {
            return ReadIntoMemory(path);
        }
        FileStream? stream = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        MemoryMappedFile? mmf = null;
        MemoryMappedViewAccessor? view = null;
        long size;
        byte* p = null;
        try
        {
            size = stream.Length;
            if (size == 0)
            {
                throw new GgufFormatException(path, 0, "the file is empty (0 bytes); nothing to map");
            }

            mmf = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null; // owned by the mapping now
            view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        }
        catch
        {
            view?.Dispose();
            mmf?.Dispose();
            stream?.Dispose();
            throw;
        }

        // The constructor unmaps everything itself when the header is invalid.
        return new GgufFile(path, p + view.PointerOffset, size, mmf, view, default);
    }

    private static GgufFile ReadIntoMemory(string path)
    {
        Backends.Cpu.NativeArenaHandle? copy = null;
        try
        {
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
            {
                long size = stream.Length;
                if (size == 0)
                {
                    throw new GgufFormatException(path, 0, "the file is empty (0 bytes); nothing to read");
                }

                copy = new Backends.Cpu.NativeArenaHandle(size, hugePages: true);
                long done = 0;
                while (done < size)
                {
                    int n = stream.Read(new Span<byte>(copy.Pointer + done, (int)Math.Min(size - done, 1 << 30)));
                    if (n == 0)
                    {
                        throw new GgufException($"{path}: the file shrank while being read ({done:N0} of {size:N0} bytes)");
                    }

                    done += n;
                }
            }

            var c = copy;
            copy = null; // the constructor releases it itself when the header is invalid
            return new GgufFile(path, c.Pointer, c.Bytes, null, null, default, c);
        }
        finally
        {
            copy?.Dispose();
        }
    }

    /// <summary>
    /// Parses a GGUF image held in memory (same parser and validation as files). The memory is pinned until
    /// Dispose; the caller must not modify it meanwhile.
    /// </summary>
    public static GgufFile Open(ReadOnlyMemory<byte> data, string name = "<memory>")
    {
        // The constructor unpins the memory itself when the header is invalid (releasing it twice would free the
        // GC handle twice).
        var pin = data.Pin();
        return new GgufFile(name, (byte*)pin.Pointer, data.Length, null, null, pin);
    }

    /// <inheritdoc cref="Open(ReadOnlyMemory{byte}, string)"/>
    public static GgufFile Open(byte[] data, string name = "<memory>") => Open(new ReadOnlyMemory<byte>(data), name);

    public bool TryGetTensor(string name, out GgufTensorInfo tensor) => _header.TensorsByName.TryGetValue(name, out tensor!);

    /// <summary>The tensor named <paramref name="name"/>; <see cref="GgufException"/> when the file has none.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        TryGetTensor(name, out var t) ? t : throw new GgufException($"tensor '{name}' not found in {Path}");

    /// <summary>
    /// Zero-copy bytes of a tensor. Valid until <see cref="Dispose"/>; do not keep the span past it.
    /// Tensors over 2 GiB cannot be one span: use <see cref="GetTensorPointer"/>.
    /// </summary>
    public ReadOnlySpan<byte> GetTensorBytes(GgufTensorInfo tensor)
    {
        var p = GetTensorPointer(tensor);
        if (tensor.ByteSize > int.MaxValue)
        {
            throw new GgufException($"tensor '{tensor.Name}' is {tensor.ByteSize} bytes, too large for a span; use GetTensorPointer");
        }

        return new ReadOnlySpan<byte>(p, (int)tensor.ByteSize);
    }

    /// <summary>Pointer to a tensor's first byte in the mapping; valid while the file is not disposed (or a lease is held).</summary>
    public byte* GetTensorPointer(GgufTensorInfo tensor)
    {
        ThrowIfDisposed();
        CheckOwned(tensor);
        return _base + DataOffset + tensor.Offset;
    }

    /// <summary>A view of the named tensor that re-checks disposal on every access.</summary>
    public GgufTensorView GetView(string name) => new(this, GetTensor(name));

    /// <summary>A view of <paramref name="tensor"/> that re-checks disposal on every access.</summary>
    public GgufTensorView GetView(GgufTensorInfo tensor)
    {
        CheckOwned(tensor);
        return new GgufTensorView(this, tensor);
    }

    /// <summary>The MoE hyperparameters of this model, with the architecture's defaults for absent keys.</summary>
    public MoeHyperParameters GetMoeHyperParameters() => MoeHyperParameters.FromFile(this);

    /// <summary>
    /// Keeps the mapping alive until the lease is disposed, even if the file is disposed meanwhile.
    /// <see cref="ObjectDisposedException"/> when the file is already disposed.
    /// </summary>
    public GgufMappingLease AcquireLease()
    {
        while (true)
        {
            var refs = Volatile.Read(ref _refs);
            if (refs == 0 || IsDisposed)
            {
                throw new ObjectDisposedException(nameof(GgufFile), $"{Path} has been disposed");
            }

            if (Interlocked.CompareExchange(ref _refs, refs + 1, refs) == refs)
            {
                return new GgufMappingLease(this);
            }
        }
    }

    internal void ReleaseLease() => Release();

    // Another lease for a holder of one: the count is at least 1 while `held` lives, so the mapping cannot be gone.
    internal GgufMappingLease DuplicateLease()
    {
        Interlocked.Increment(ref _refs);
        return new GgufMappingLease(this);
    }

    /// <summary>Raw pointer to absolute file offset 0 (for leases and views).</summary>
    internal byte* BasePointer => _base;

    /// <summary>True when the bytes are a page-granular file mapping (Open(path)), so GPU backends may wrap them without copying.</summary>
    internal bool IsFileMapping => _view is not null;

    internal void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw new ObjectDisposedException(nameof(GgufFile), $"{Path} has been disposed");
        }
    }

    private void CheckOwned(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var list = _header.Tensors;
        if ((uint)tensor.Index >= (uint)list.Count || !ReferenceEquals(list[tensor.Index], tensor))
        {
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {Path}", nameof(tensor));
        }
    }

    /// <summary>Unmaps the file once no lease is held; later accessors throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Release();
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0)
        {
            Unmap();
        }
    }

    private void Unmap()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }

        _mmf?.Dispose();
        _pin.Dispose();
        _copy?.Dispose();
    }

    public override string ToString() => $"{Path}: GGUF v{Version}, {Metadata.Count} keys, {Tensors.Count} tensors";
}

/// <summary>Holds a GGUF mapping alive; dispose exactly once.</summary>
public sealed unsafe class GgufMappingLease : IDisposable
{
    private GgufFile? _file;

    internal GgufMappingLease(GgufFile file) => _file = file;

    /// <summary>
    /// The bytes of <paramref name="tensor"/>; valid until this lease is disposed, whether or not the file is.
    /// </summary>
    public ReadOnlySpan<byte> GetTensorBytes(GgufTensorInfo tensor)
    {
        var file = _file ?? throw new ObjectDisposedException(nameof(GgufMappingLease));
        if ((uint)tensor.Index >= (uint)file.Tensors.Count || !ReferenceEquals(file.Tensors[tensor.Index], tensor))
        {
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {file.Path}", nameof(tensor));
        }

        if (tensor.ByteSize > int.MaxValue)
        {
            throw new GgufException($"tensor '{tensor.Name}' is {tensor.ByteSize} bytes, too large for a span");
        }

        return new ReadOnlySpan<byte>(file.BasePointer + file.DataOffset + tensor.Offset, (int)tensor.ByteSize);
    }

    /// <summary>The file whose mapping this lease holds (its path and tensor table stay readable after the file is disposed).</summary>
    public GgufFile File => _file ?? throw new ObjectDisposedException(nameof(GgufMappingLease));

    /// <summary>Pointer to a tensor's first byte; valid until this lease is disposed, whether or not the file is.</summary>
    public byte* GetTensorPointer(GgufTensorInfo tensor)
    {
        var file = _file ?? throw new ObjectDisposedException(nameof(GgufMappingLease));
        if ((uint)tensor.Index >= (uint)file.Tensors.Count || !ReferenceEquals(file.Tensors[tensor.Index], tensor))
        {
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {file.Path}", nameof(tensor));
        }

        return file.BasePointer + file.DataOffset + tensor.Offset;
    }

    /// <summary>A second, independent lease on the same mapping (for an object that outlives this lease's holder).</summary>
    public GgufMappingLease Duplicate() => (_file ?? throw new ObjectDisposedException(nameof(GgufMappingLease))).DuplicateLease();

    /// <summary>Releases the lease; the mapping is unmapped when the file and every lease are disposed. Idempotent.</summary>
    public void Dispose() => Interlocked.Exchange(ref _file, null)?.ReleaseLease();
}

/// <summary>How <see cref="GgufFile.Open(string, GgufOpenOptions)"/> reads a file.</summary>
public sealed record GgufOpenOptions
{
    /// <summary>Map the file (the default).</summary>
    public static GgufOpenOptions Default { get; } = new();

    /// <summary>
    /// Read the whole file into native memory instead of mapping it (llama.cpp's --no-mmap): costs the file's size in
    /// RAM and the read time, but a file truncated or rewritten later cannot crash the process (SIGBUS).
    /// </summary>
    public bool NoMmap { get; init; }
}
