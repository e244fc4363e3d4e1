using Ferrum.Backends.OpenCL;
using Ferrum.Moe;
using Ferrum.Quantization;
using Xunit.Abstractions;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// Every expert kernel of every format against the exact float reference (ggml's dequantization, double math):
/// gate||up (mat-vec and tiled), down + weighted sum (mat-vec and tiled + combine). The bar is NMSE ≤ 1e-6, far
/// inside the 5e-4 that test-backend-ops allows: the device computes in float from the same dequantized values.
/// </summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLMoeKernelTests(OpenCLFixture fixture, ITestOutputHelper output)
{
    private const double Bar = 1e-6;
    private const int H = OpenCLFixture.Hidden;
    private const int F = OpenCLFixture.Ffn;
    private const int E = OpenCLFixture.Experts;
    private const int K = OpenCLFixture.TopK;

    public static TheoryData<string> Formats() => OpenCLDequantTests.Formats();

    [Theory]
    [MemberData(nameof(Formats))]
    public void Expert_kernels_match_the_float_reference(string format) => Check(format, OpenCLFixture.Options);

    [Theory]
    [InlineData("q4_K")]
    [InlineData("q8_0")]
    public void One_work_item_per_row_without_reduction_matches_too(string format) =>
        Check(format, OpenCLFixture.Options with { ThreadsPerRow = 1, RowsPerGroup = 16 });

    private void Check(string format, OpenCLMoeOptions options)
    {
        Assert.True(GgmlTypeInfo.TryParse(format, out var info));
        var w = new MoeTestLayer(info.Type, info.Type, H, F, E, seed: 10 + (int)info.Type);
        using var layer = w.Create(fixture.Context, w.Routing(K, MoeGating.Softmax, true), options: options);
        Assert.True(layer.WeightsInPlace == fixture.Context.Device.IsCpu);

        foreach (var (tokens, path) in new[] { (3, OpenCLMoePath.MatVec), (13, OpenCLMoePath.Tiled) })
        {
            var x = MoeTestLayer.Activations(tokens, H, seed: tokens);
            var (ids, weights) = w.RandomRouting(tokens, K, seed: tokens + 1);

            var act = new float[tokens * K * F];
            layer.GateUp(x, ids, act, path);
            var actNmse = MoeTestLayer.Nmse(w.ReferenceAct(x, tokens, ids, K), act);

            var y = new float[tokens * H];
            layer.ForwardRouted(x, ids, weights, y, path);
            var outNmse = MoeTestLayer.Nmse(w.ReferenceOut(x, tokens, ids, weights, K), y);

            output.WriteLine($"{format} {path} tpr={options.ThreadsPerRow} tokens={tokens}: gate_up NMSE {actNmse:E2}, layer NMSE {outNmse:E2}");
            Assert.True(actNmse <= Bar, $"{format} {path} gate||up NMSE {actNmse:E3}");
            Assert.True(outNmse <= Bar, $"{format} {path} down+sum NMSE {outNmse:E3}");
        }
    }
}
