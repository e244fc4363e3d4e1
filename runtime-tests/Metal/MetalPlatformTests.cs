using Ferrum.Backends.Metal;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.OpenCL;

namespace Ferrum.Runtime.Tests.Metal;

/// <summary>
/// What of the Metal backend can be checked on any OS: the clear error off macOS, page rounding for zero-copy
/// buffers and grid sizes. Running the kernels needs a Mac (docs/metal.md).
/// </summary>
public sealed unsafe class MetalPlatformTests
{
    [Fact]
    public void Off_macOS_creating_a_device_throws_the_clear_error()
    {
        if (OperatingSystem.IsMacOS())
        {
            using var device = MetalDevice.CreateSystemDefault();
            Assert.False(string.IsNullOrEmpty(device.Name));
            return;
        }

        var ex = Assert.Throws<PlatformNotSupportedException>(MetalDevice.CreateSystemDefault);
        Assert.StartsWith("Metal is available only on macOS", ex.Message);
        Assert.False(MetalPlatform.IsSupported);
    }

    [Fact]
    public void Off_macOS_constructing_the_backend_or_the_executor_throws_the_clear_error_before_touching_anything()
    {
        if (OperatingSystem.IsMacOS())
        {
            return; // on a Mac the executor is exercised by MetalExecutorMacTests
        }

        // The program lookup must not be reached: the platform check comes first.
        var w = new MoeTestLayer(GgmlType.Q8_0, GgmlType.Q8_0, 256, 64, 4, seed: 1);
        using var layer = w.Layer(w.Routing(2, MoeGating.Softmax, true));
        var calls = 0;
        string? Count(GgmlType format, int rows, int rowLength)
        {
            calls++;
            return "// program";
        }

        var ex = Assert.Throws<PlatformNotSupportedException>(() => new MetalMoeExecutor(layer, Count));
        Assert.StartsWith(MetalPlatform.OnlyOnMacOS, ex.Message);
        var backend = Assert.Throws<PlatformNotSupportedException>(() => new MetalBackend(sources: Count));
        Assert.StartsWith(MetalPlatform.OnlyOnMacOS, backend.Message);
        Assert.Equal(0, calls);

        // The capability check is pure logic and answers here.
        Assert.True(MetalBackend.CanRun(layer, Count, out var why), why);
        Assert.True(calls > 0);
    }

    [Theory]
    [InlineData(0x10000, 100, 0x10000, 16384, 0)]
    [InlineData(0x10020, 16384, 0x10000, 32768, 0x20)]
    [InlineData(0x13FFF, 1, 0x10000, 16384, 0x3FFF)]
    [InlineData(0x14000, 16385, 0x14000, 32768, 0)]
    public void Zero_copy_ranges_cover_whole_pages(long address, long length, long start, long covered, long offset)
    {
        var (s, l, o) = MetalPages.Cover((nint)address, length, 16384);
        Assert.Equal(start, (long)s);
        Assert.Equal(covered, l);
        Assert.Equal(offset, o);
        Assert.True(s % 16384 == 0 && l % 16384 == 0 && o + length <= l);
    }

    [Fact]
    public void Page_rounding_refuses_a_page_size_that_is_not_a_power_of_two()
    {
        Assert.Throws<ArgumentException>(() => MetalPages.Cover(0x1000, 10, 12000));
    }

    [Fact]
    public void Decode_uses_the_mat_vec_kernels_with_ggml_row_blocks()
    {
        // Qwen3-30B-A3B: H 2048, F 768, 128 experts, top-8; 4 rows per threadgroup (2 per simdgroup × 2 simdgroups).
        var plan = MetalMoePlan.Build(2048, 768, 128, 8, 1, GgmlType.Q4_K, GgmlType.Q6_K);
        Assert.Equal([MetalMoeStep.Route, MetalMoeStep.GateUpVector, MetalMoeStep.DownVector], plan.Select(d => d.Step));
        Assert.Equal("kernel_moe_mv_id_gate_up_q4_K", plan[1].Function);
        Assert.Equal("kernel_moe_mv_id_down_q6_K", plan[2].Function);
        Assert.Equal((768, 2048), (plan[1].Rows, plan[1].K));            // gate/up read F×H matrices
        Assert.Equal((2048, 768), (plan[2].Rows, plan[2].K));            // down reads H×F
        Assert.Equal(768, plan[1].ArgsFrom(new MetalMoeArgs { H = 2048 }).Rows);
        Assert.Equal(MTLSize.Of(1), plan[0].Threadgroups);
        Assert.Equal(MTLSize.Of(192, 1, 8), plan[1].Threadgroups);     // 768 rows / 4, one z per (token, slot)
        Assert.Equal(MTLSize.Of(64), plan[1].ThreadsPerThreadgroup);
        Assert.Equal(MTLSize.Of(512, 1), plan[2].Threadgroups);        // 2048 rows / 4, one y per token
    }

    [Fact]
    public void Prefill_groups_by_expert_and_uses_the_tile_kernels()
    {
        var plan = MetalMoePlan.Build(2048, 768, 128, 8, 40, GgmlType.Q4_K, GgmlType.Q4_K);
        Assert.Equal([MetalMoeStep.Route, MetalMoeStep.Map, MetalMoeStep.GateUpTile, MetalMoeStep.DownTile, MetalMoeStep.Combine], plan.Select(d => d.Step));
        Assert.Equal(MTLSize.Of(40), plan[0].Threadgroups);
        Assert.Equal(MTLSize.Of(2), plan[1].Threadgroups);              // 128 experts, 64 threads each
        Assert.Equal(MTLSize.Of(48, 3, 128), plan[2].Threadgroups);     // 768/16 row tiles, ceil(40/16) token tiles, experts
        Assert.Equal(MTLSize.Of(16, 16), plan[2].ThreadsPerThreadgroup); // 16 rows x 16 tokens, one output each
        Assert.Equal(MTLSize.Of(128, 3, 128), plan[3].Threadgroups);    // 2048/16 row tiles
        Assert.Equal(MTLSize.Of(32, 40), plan[4].Threadgroups);
    }

    [Fact]
    public void Routing_beyond_the_kernel_limits_is_refused()
    {
        var ex = Assert.Throws<NotSupportedException>(() => MetalMoePlan.Build(64, 64, 1024, 8, 1, GgmlType.F32, GgmlType.F32));
        Assert.Contains("512 experts", ex.Message);
        Assert.Throws<NotSupportedException>(() => MetalMoePlan.Build(64, 64, 64, 33, 1, GgmlType.F32, GgmlType.F32));
    }
}
