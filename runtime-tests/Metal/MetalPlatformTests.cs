using Ferrum.Backends.Metal;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.Metal;

/// <summary>
/// What of the Metal backend can be checked on any OS: the clear error off macOS, page rounding for zero-copy
/// buffers, grid sizes and weight validation. Running the kernels needs a Mac (docs/metal.md).
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
    public void Off_macOS_constructing_the_executor_throws_the_clear_error_before_touching_anything()
    {
        if (OperatingSystem.IsMacOS())
        {
            return; // on a Mac the executor is exercised by MetalExecutorMacTests
        }

        // Null pointers would fail validation: the platform check must come first.
        var data = new byte[64];
        fixed (byte* p = data)
        {
            var m = new MetalWeightStack("w", GgmlType.F32, p, 4, 4, 1);
            var w = new MetalMoeWeights { Router = m, Gate = m, Up = m, Down = m };
            var calls = 0;
            var ex = Assert.Throws<PlatformNotSupportedException>(() => new MetalMoeExecutor(w, new MetalMoeRouting { ExpertsPerToken = 1 }, (_, _, _) =>
            {
                calls++;
                return string.Empty;
            }));
            Assert.StartsWith(MetalPlatform.OnlyOnMacOS, ex.Message);
            Assert.Equal(0, calls);
        }
    }

    [Fact]
    public void A_format_without_a_generated_metal_source_is_a_clear_error()
    {
        // The runtime tests' assembly declares no kernels.yaml, so the catalog has no Metal source for iq4_nl.
        var ex = Assert.Throws<InvalidOperationException>(() => MetalMoeExecutor.CatalogSource(GgmlType.IQ4_NL, 64, 256));
        Assert.Contains("iq4_nl", ex.Message);
        Assert.Contains("kernels.yaml", ex.Message);
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
        Assert.Equal(MTLSize.Of(24, 2, 128), plan[2].Threadgroups);     // 768/32 row tiles, ceil(40/32) token tiles, experts
        Assert.Equal(MTLSize.Of(128), plan[2].ThreadsPerThreadgroup);
        Assert.Equal(MTLSize.Of(64, 2, 128), plan[3].Threadgroups);
        Assert.Equal(MTLSize.Of(32, 40), plan[4].Threadgroups);
    }

    [Fact]
    public void Routing_beyond_the_kernel_limits_is_refused()
    {
        var ex = Assert.Throws<NotSupportedException>(() => MetalMoePlan.Build(64, 64, 1024, 8, 1, GgmlType.F32, GgmlType.F32));
        Assert.Contains("512 experts", ex.Message);
        Assert.Throws<NotSupportedException>(() => MetalMoePlan.Build(64, 64, 64, 33, 1, GgmlType.F32, GgmlType.F32));
    }

    private static MetalWeightStack Stack(string name, GgmlType type, byte[] data, int columns)
    {
        fixed (byte* p = data)
        {
            return new MetalWeightStack(name, type, p, columns, 4, 1);
        }
    }

    [Fact]
    public void Weights_that_do_not_fit_are_refused_naming_the_tensor()
    {
        var data = new byte[1 << 16];
        fixed (byte* p = data)
        {
            var router = new MetalWeightStack("blk.0.ffn_gate_inp.weight", GgmlType.F32, p, 64, 4, 1);
            var gate = new MetalWeightStack("blk.0.ffn_gate_exps.weight", GgmlType.F32, p, 64, 32, 4);
            var down = new MetalWeightStack("blk.0.ffn_down_exps.weight", GgmlType.F32, p, 32, 64, 4);
            var bad = new MetalWeightStack("blk.0.ffn_up_exps.weight", GgmlType.F32, p, 64, 32, 3);
            var ok = new MetalMoeWeights { Router = router, Gate = gate, Up = gate, Down = down };
            ok.Validate();
            var ex = Assert.Throws<ArgumentException>(() => new MetalMoeWeights { Router = router, Gate = gate, Up = bad, Down = down }.Validate());
            Assert.Contains("blk.0.ffn_up_exps.weight", ex.Message);
            var q8Router = new MetalWeightStack("blk.0.ffn_gate_inp.weight", GgmlType.Q8_0, p, 64, 4, 1);
            var ex2 = Assert.Throws<NotSupportedException>(() => new MetalMoeWeights { Router = q8Router, Gate = gate, Up = gate, Down = down }.Validate());
            Assert.Contains("F32", ex2.Message);
            var odd = Assert.Throws<ArgumentException>(() => Stack("odd", GgmlType.Q4_K, data, 100));
            Assert.Contains("block size 256", odd.Message);
        }
    }
}
