using Ferrum.Kernels;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Kernels;

/// <summary>Lookup prefers the specialized kernel, falls back to the generic one, and says clearly when there is none.</summary>
public class KernelRegistryTests
{
    // IQ2_XXS has no CPU or GPU printer, so no generated code (runtime-tests/kernels.yaml emits OpenCL programs for
    // every printable format into the same global catalog) registers it: this class's fakes cannot interfere.
    private const GgmlType Format = GgmlType.IQ2_XXS;

    [Fact]
    public unsafe void SpecializedFirstThenGenericThenError()
    {
        var missing = Assert.Throws<NotSupportedException>(() => KernelRegistry.Get(GgmlType.MXFP4, 16, 64, 1));
        Assert.Contains("mxfp4/16x64/b1", missing.Message, StringComparison.Ordinal);

        MatVecKernel specialized = (w, s, r, l, b, x, y) => y[0] = 1;
        MatVecKernel generic = (w, s, r, l, b, x, y) => y[0] = 2;
        KernelRegistry.Register(new KernelKey(Format, 768, 2048, 1), "iq2_xxs/768x2048/b1", specialized);
        KernelRegistry.RegisterGeneric(Format, "iq2_xxs/generic", generic);

        Assert.Same(specialized, KernelRegistry.Get(Format, 768, 2048, 1).Kernel);
        Assert.True(KernelRegistry.Get(Format, 768, 2048, 1).IsSpecialized);
        var fallback = KernelRegistry.Get(Format, 768, 2048, 7);
        Assert.Same(generic, fallback.Kernel);
        Assert.False(fallback.IsSpecialized);
        Assert.Contains(KernelRegistry.All, e => e.Name == "iq2_xxs/generic");
        Assert.Equal("iq2_xxs/768x2048/b1", new KernelKey(Format, 768, 2048, 1).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelRegistry.Register(new KernelKey(Format, -1, 2, 3), "bad", generic));
    }

    [Fact]
    public void SourceCatalogFindsExactThenGeneric()
    {
        var exact = new KernelSource("iq2_xxs/8x256/b1", KernelTarget.OpenCL, "k1", new KernelKey(Format, 8, 256, 1), ".cl", "__kernel void k1() {}");
        var generic = new KernelSource("iq2_xxs/generic", KernelTarget.OpenCL, "k2", KernelKey.Generic(Format), ".cl", "__kernel void k2() {}");
        KernelSourceCatalog.Register(exact);
        KernelSourceCatalog.Register(generic);
        Assert.Same(exact, KernelSourceCatalog.Find(KernelTarget.OpenCL, new KernelKey(Format, 8, 256, 1)));
        Assert.Same(generic, KernelSourceCatalog.Find(KernelTarget.OpenCL, new KernelKey(Format, 8, 256, 2)));
        Assert.Null(KernelSourceCatalog.Find(KernelTarget.Metal, new KernelKey(Format, 8, 256, 1)));
        Assert.Equal("opencl.iq2_xxs.8x256.b1.cl", exact.FileName);
        Assert.Contains(exact, KernelSourceCatalog.For(KernelTarget.OpenCL));
    }
}
