using Ferrum.Gguf;

namespace Ferrum.Moe;

/// <summary>
/// The bytes of one tensor of a <see cref="GgufFile"/>, zero-copy over its mapping. Every access goes through the
/// file, so it throws <see cref="ObjectDisposedException"/> once the file is disposed instead of reading freed memory.
/// </summary>
public sealed unsafe class GgufWeightBytes : WeightBytes
{
    private readonly GgufFile file;
    private readonly GgufTensorInfo tensor;

    /// <summary>Views <paramref name="tensor"/> of <paramref name="file"/>; the tensor must belong to the file.</summary>
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

    /// <inheritdoc/>
    public override long Length => tensor.ByteSize;

    /// <inheritdoc/>
    /// <remarks>Through <see cref="GgufFile.GetTensorPointer"/>, which throws <see cref="ObjectDisposedException"/> after disposal.</remarks>
    public override byte* Pointer => file.GetTensorPointer(tensor);
}
