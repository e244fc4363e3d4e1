using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Moe;

/// <summary>GgufWeightBytes views a tensor of its own file only, and stops working when the file is disposed.</summary>
public class GgufWeightBytesTests
{
    [Fact]
    public unsafe void ViewsTheTensorAndFailsAfterDispose()
    {
        var data = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        var file = GgufFile.Open(new GgufWriter().AddMetadata("general.architecture", "test").AddTensor("w", GgmlType.I8, [64L], data).ToArray(), "a.gguf");
        using var other = GgufFile.Open(new GgufWriter().AddMetadata("general.architecture", "test").AddTensor("w", GgmlType.I8, [64L], data).ToArray(), "b.gguf");

        var bytes = new GgufWeightBytes(file, file.GetTensor("w"));
        Assert.Equal(64, bytes.Length);
        Assert.Equal(data, bytes.Span.ToArray());
        Assert.Equal(63, bytes.Pointer[63]);

        var foreign = Assert.Throws<ArgumentException>(() => new GgufWeightBytes(file, other.GetTensor("w")));
        Assert.Contains("does not belong to a.gguf", foreign.Message, StringComparison.Ordinal);

        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => bytes.Span.Length);
    }
}
