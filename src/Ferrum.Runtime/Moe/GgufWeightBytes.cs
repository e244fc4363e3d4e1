using Ferrum.Gguf;

namespace Ferrum.Moe;

/// <summary>
/// The bytes of one tensor of a <see cref="GgufFile"/>, zero-copy over its mapping. Over the file, every access goes
/// through it and throws <see cref="ObjectDisposedException"/> once it is disposed; over a
/// <see cref="GgufMappingLease"/>, the bytes stay valid until the lease is disposed, whether or not the file is.
/// </summary>
public sealed unsafe class GgufWeightBytes : WeightBytes
{
    private readonly GgufFile? file;
    private readonly GgufMappingLease? lease;
    private readonly GgufTensorInfo tensor;

    /// <summary>A view through <paramref name="file"/>; <see cref="ArgumentException"/> when the tensor is not the file's.</summary>
    public GgufWeightBytes(GgufFile file, GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(tensor);
        if (!file.TryGetTensor(tensor.Name, out var own) || !ReferenceEquals(own, tensor))
        {
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {file.Path}", nameof(tensor));
        }

        this.file = file;
        this.tensor = tensor;
    }

    /// <summary>A view through <paramref name="lease"/> (which the caller keeps alive while the view is used).</summary>
    public GgufWeightBytes(GgufMappingLease lease, GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(tensor);
        _ = lease.GetTensorPointer(tensor); // checks ownership now
        this.lease = lease;
        this.tensor = tensor;
    }

    /// <inheritdoc/>
    public override long Length => tensor.ByteSize;

    /// <inheritdoc/>
    public override byte* Pointer => lease != null ? lease.GetTensorPointer(tensor) : file!.GetTensorPointer(tensor);
}
