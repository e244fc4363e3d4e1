using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests;

/// <summary>The shared type table agrees with ggml's own type traits for every id both know.</summary>
public class GgmlTypeTableTests
{
    [Fact]
    public void EveryKnownTypeMatchesGgml()
    {
        Assert.True(GgmlLibrary.IsAvailable, "ggml reference libraries (LLamaSharp.Backend.Cpu) must be present for tests");
        foreach (var info in GgmlTypeInfo.All)
        {
            var id = (int)info.Type;
            Assert.Equal(GgmlNative.TypeName(id), info.Name);
            Assert.Equal(GgmlNative.BlockSize(id), info.BlockSize);
            Assert.Equal((long)GgmlNative.TypeSize(id), info.TypeSize);
        }
    }

    [Theory]
    [InlineData("Q4_K", GgmlType.Q4_K)]
    [InlineData("q4_k", GgmlType.Q4_K)]
    [InlineData("mxfp4", GgmlType.MXFP4)]
    [InlineData("BF16", GgmlType.BF16)]
    public void NamesParseCaseInsensitively(string name, GgmlType expected)
    {
        Assert.True(GgmlTypeInfo.TryParse(name, out var info));
        Assert.Equal(expected, info.Type);
    }
}
