using Ferrum.GgmlReference;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Runtime.Tests.Quantization;

/// <summary>The layout table agrees with the type table and with ggml's sizes, and its fields tile each block.</summary>
public class BlockLayoutTests
{
    [Fact]
    public void EveryLayoutMatchesTypeTableAndGgml()
    {
        Assert.Equal(18, BlockLayout.All.Count);
        foreach (var layout in BlockLayout.All)
        {
            var info = GgmlTypeInfo.Get(layout.Type);
            Assert.Equal(info.BlockSize, layout.BlockSize);
            Assert.Equal(info.TypeSize, layout.TypeSize);
            Assert.Equal(info.ActivationType, layout.ActivationType);
            Assert.Equal((long)GgmlNative.TypeSize((int)layout.Type), layout.TypeSize);
            Assert.Equal(GgmlNative.BlockSize((int)layout.Type), layout.BlockSize);
            Assert.Equal(0, layout.BlockSize % layout.SubBlockSize);
            Assert.Equal(layout.TypeSize, layout.Fields.Sum(f => f.Length));
            Assert.False(string.IsNullOrWhiteSpace(layout.Summary));
            Assert.Equal(layout.Mapping == BlockValueMapping.Codebook, layout.Codebook is { Count: 16 });
        }

        foreach (var type in QuantTestData.WeightTypes)
        {
            Assert.True(BlockLayout.TryGet(type, out var layout));
            Assert.Equal(GgmlQuant.VecDotType((int)type), (int)layout.ActivationType);
        }
    }

    /// <summary>The C# mirrors of ggml_type_traits / ggml_type_traits_cpu read the same facts as ggml's accessors.</summary>
    [Fact]
    public unsafe void GgmlTraitStructLayoutsAreRight()
    {
        Assert.Equal(56, sizeof(GgmlTypeTraits));
        Assert.Equal(32, sizeof(GgmlTypeTraitsCpu));
        foreach (var type in QuantTestData.WeightTypes)
        {
            var t = GgmlNative.GetTypeTraits((int)type);
            Assert.Equal(GgmlNative.TypeName((int)type), System.Runtime.InteropServices.Marshal.PtrToStringUTF8((IntPtr)t->TypeName));
            Assert.Equal(GgmlNative.BlockSize((int)type), t->BlockSize);
            Assert.Equal(GgmlNative.TypeSize((int)type), t->TypeSize);
            Assert.Equal(type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16), t->IsQuantized != 0);
            Assert.True(GgmlNative.GetTypeTraitsCpu((int)type)->VecDot != null);
        }
    }

    [Fact]
    public void FieldLookupNamesTheFormat()
    {
        Assert.Equal(4, BlockLayout.Get(GgmlType.Q4_K).Field("scales").Offset);
        var ex = Assert.Throws<ArgumentException>(() => BlockLayout.Get(GgmlType.Q4_0).Field("dmin"));
        Assert.Contains("Q4_0", ex.Message);
        Assert.Throws<ArgumentException>(() => BlockLayout.Get(GgmlType.IQ2_XXS));
    }
}
