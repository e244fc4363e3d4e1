using Ferrum.Backends;
using Ferrum.Kernels;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Metal;

/// <summary>
/// The one lookup rule of the GPU backends (<see cref="MoePrograms"/>): a shape's program is found whatever batch
/// variants kernels.yaml declared (the MoE kernels do not depend on the batch), the smallest batch wins, and a shape
/// never silently becomes the generic program inside the lookup.
/// </summary>
public sealed class MoeProgramLookupTests
{
    [Fact]
    public void A_shape_is_found_in_any_batch_variant_and_the_smallest_batch_wins()
    {
        // q5_1 96×160 for Metal exists nowhere else in this assembly: registering it touches no other test.
        KernelSource Source(int batch) =>
            new($"q5_1/96x160/b{batch}", KernelTarget.Metal, "matvec", new KernelKey(GgmlType.Q5_1, 96, 160, batch), ".metal", $"// batch {batch}");
        KernelSourceCatalog.Register(Source(8));
        KernelSourceCatalog.Register(Source(2));
        KernelSourceCatalog.Register(Source(32));

        Assert.Equal("// batch 2", MoePrograms.Find(KernelTarget.Metal, GgmlType.Q5_1, 96, 160)?.Text);
        Assert.Equal("// batch 2", MoePrograms.Catalog(KernelTarget.Metal)(GgmlType.Q5_1, 96, 160));
        Assert.Null(MoePrograms.Find(KernelTarget.OpenCL, GgmlType.Q5_1, 96, 160));
        Assert.Null(MoePrograms.Find(KernelTarget.Metal, GgmlType.Q5_1, 160, 96));
        Assert.Null(MoePrograms.Find(KernelTarget.Metal, GgmlType.Q5_1, 0, 0)); // no generic q5_1 Metal program here
    }

    [Fact]
    public void The_opencl_catalog_holds_the_generic_and_the_declared_specialized_programs()
    {
        // runtime-tests/kernels.yaml: every format generic, q6_K specialized for hidden 512 × expert_ffn 256.
        var catalog = MoePrograms.Catalog(KernelTarget.OpenCL);
        Assert.Contains("#define N_ROWS rows_arg", catalog(GgmlType.Q6_K, 0, 0));
        Assert.Contains("#define N_ROWS 256", catalog(GgmlType.Q6_K, 256, 512));
        Assert.Contains("#define N_ROWS 512", catalog(GgmlType.Q6_K, 512, 256));
        Assert.Null(catalog(GgmlType.Q6_K, 256, 256));
        Assert.Null(catalog(GgmlType.Q4_K, 256, 512));
    }
}
