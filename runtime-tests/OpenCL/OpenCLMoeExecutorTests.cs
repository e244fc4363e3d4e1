using Ferrum.Backends;
using Ferrum.Backends.OpenCL;
using Ferrum.Moe;
using Ferrum.Quantization;
using Xunit.Abstractions;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>Whole layers on the device: routing per architecture, Q4_K_M's mixed formats, fused gate||up, baked shapes, gpt-oss activation.</summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLMoeExecutorTests(OpenCLFixture fixture, ITestOutputHelper output)
{
    private const int H = OpenCLFixture.Hidden;
    private const int F = OpenCLFixture.Ffn;
    private const int E = OpenCLFixture.Experts;

    public static TheoryData<string, MoeGating, bool, float, bool> Routings() => new()
    {
        { "qwen3moe/mixtral: softmax, renormalized", MoeGating.Softmax, true, 0f, false },
        { "olmoe/qwen2moe: softmax", MoeGating.Softmax, false, 0f, false },
        { "deepseek-v3: sigmoid, selection bias, renormalized, scale 2.5", MoeGating.Sigmoid, true, 2.5f, true },
        { "gpt-oss: softmax over the selected logits", MoeGating.SoftmaxOverSelected, false, 0f, false },
    };

    [Theory]
    [MemberData(nameof(Routings))]
    public void Device_routing_matches_the_reference(string arch, MoeGating gating, bool norm, float scale, bool bias)
    {
        var w = new MoeTestLayer(GgmlType.Q8_0, GgmlType.Q8_0, H, F, E, seed: 3);
        const int tokens = 9, topK = 3;
        var routing = w.Routing(topK, gating, norm, scale);
        using var layer = w.Create(fixture.Context, routing, selectionBias: bias);
        var x = MoeTestLayer.Activations(tokens, H, seed: 5);
        var ids = new int[tokens * topK];
        var weights = new float[tokens * topK];
        layer.Route(x, ids, weights);
        var (refIds, refWeights, margin) = w.ReferenceRoute(x, tokens, routing, bias);
        // Float logits differ from the double reference by ~1e-7; a gap far above that makes the selection unambiguous.
        Assert.True(margin > 1e-5, $"{arch}: test data has a near tie ({margin:E2}); pick another seed");
        Assert.Equal(refIds, ids);
        for (var i = 0; i < weights.Length; i++)
        {
            Assert.True(Math.Abs(weights[i] - refWeights[i]) <= 1e-5 * Math.Max(1, Math.Abs(refWeights[i])), $"{arch}: weight {i} device {weights[i]}, reference {refWeights[i]}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(20)]
    public void Q4_K_M_layer_routed_on_the_device_matches_the_reference(int tokens)
    {
        // Q4_K_M: q4_K gate/up with q6_K down on half the layers; routing as qwen3moe.
        var w = new MoeTestLayer(GgmlType.Q4_K, GgmlType.Q6_K, H, F, E, seed: 21);
        const int topK = 2;
        var routing = w.Routing(topK, MoeGating.Softmax, true);
        using var layer = w.Create(fixture.Context, routing);
        var x = MoeTestLayer.Activations(tokens, H, seed: 22);
        var y = new float[tokens * H];
        layer.Forward(x, y);
        var (ids, weights, margin) = w.ReferenceRoute(x, tokens, routing);
        Assert.True(margin > 1e-5, $"near tie in routing ({margin:E2})");
        var nmse = MoeTestLayer.Nmse(w.ReferenceOut(x, tokens, ids, weights.Select(v => (float)v).ToArray(), topK), y);
        output.WriteLine($"q4_K/q6_K tokens={tokens}: NMSE {nmse:E2}");
        Assert.True(nmse <= 1e-6, $"NMSE {nmse:E3}");
    }

    [Fact]
    public void Fused_gate_up_tensor_and_gpt_oss_activation_match_the_reference()
    {
        var w = new MoeTestLayer(GgmlType.MXFP4, GgmlType.MXFP4, H, F, E, seed: 31, fusedGateUp: true);
        // The activation comes from the layer's routing (gpt-oss: swiglu_oai), not from the options.
        using var layer = w.Create(fixture.Context, w.Routing(2, MoeGating.SoftmaxOverSelected, false, activation: MoeActivation.SwigluOai));
        foreach (var (tokens, path) in new[] { (2, OpenCLMoePath.MatVec), (9, OpenCLMoePath.Tiled) })
        {
            var x = MoeTestLayer.Activations(tokens, H, seed: 32);
            for (var i = 0; i < x.Length; i++)
            {
                x[i] *= 16; // reach the ±7 clamps of swiglu_oai
            }

            var (ids, weights) = w.RandomRouting(tokens, 2, seed: 33);
            var y = new float[tokens * H];
            layer.ForwardRouted(x, ids, weights, y, path);
            var nmse = MoeTestLayer.Nmse(w.ReferenceOut(x, tokens, ids, weights, 2, oai: true), y);
            output.WriteLine($"mxfp4 fused {path}: NMSE {nmse:E2}");
            Assert.True(nmse <= 1e-6, $"{path}: NMSE {nmse:E3}");
        }
    }

    [Fact]
    public void Shape_specialized_programs_from_kernels_yaml_are_preferred_and_match_the_reference()
    {
        // runtime-tests/kernels.yaml declares a q6_K model with hidden 512, expert_ffn 256: its gate/up (256×512)
        // and down (512×256) programs are specialized; other shapes use the generic program.
        const int h = 2 * H;
        var requested = new List<(GgmlType Format, int Rows, int RowLength, bool Found)>();
        MoeProgramSources sources = (format, rows, rowLength) =>
        {
            var text = OpenCLFixture.Sources(format, rows, rowLength);
            requested.Add((format, rows, rowLength, text is not null));
            return text;
        };
        var w = new MoeTestLayer(GgmlType.Q6_K, GgmlType.Q6_K, h, F, E, seed: 41);
        using var layer = w.Create(fixture.Context, w.Routing(2, MoeGating.Softmax, true), sources: sources);

        // Supports (in the constructor) and the program build each ask for gate/up (F×H) and down (H×F) and find
        // both: the generic programs are never requested.
        Assert.Equal([(GgmlType.Q6_K, F, h, true), (GgmlType.Q6_K, h, F, true)], requested.Distinct());
        Assert.Contains("gate: q6_K ferrum_moe_q6_K_256x512 (specialized)", layer.KernelPaths[1]);
        Assert.Contains("down: q6_K ferrum_moe_q6_K_512x256 (specialized)", layer.KernelPaths[3]);
        Assert.Null(OpenCLFixture.Sources(GgmlType.Q6_K, F, F));
        Assert.Contains("#define N_ROWS 512", OpenCLFixture.Sources(GgmlType.Q6_K, h, F));
        const int tokens = 5;
        var x = MoeTestLayer.Activations(tokens, h, seed: 42);
        var (ids, weights) = w.RandomRouting(tokens, 2, seed: 43);
        foreach (var path in new[] { OpenCLMoePath.MatVec, OpenCLMoePath.Tiled })
        {
            var y = new float[tokens * h];
            layer.ForwardRouted(x, ids, weights, y, path);
            var nmse = MoeTestLayer.Nmse(w.ReferenceOut(x, tokens, ids, weights, 2), y);
            Assert.True(nmse <= 1e-6, $"{path}: NMSE {nmse:E3}");
        }
    }

    [Fact]
    public void Bad_routing_and_shapes_are_rejected_with_clear_messages()
    {
        var w = new MoeTestLayer(GgmlType.Q8_0, GgmlType.Q8_0, H, F, E, seed: 51);
        using var layer = w.Create(fixture.Context, w.Routing(2, MoeGating.Softmax, true));
        var x = MoeTestLayer.Activations(1, H, seed: 1);
        var y = new float[H];
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => layer.ForwardRouted(x, [3, 8], [0.5f, 0.5f], y));
        Assert.Contains("expert id 8 is not in [0, 8)", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => layer.ForwardRouted(x, [3, 3], [0.5f, 0.5f], y));
        Assert.Contains("selects expert 3 twice", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => layer.ForwardRouted(x, [3], [0.5f], y));
        Assert.Contains("ids has 1 elements, the layer needs 2", e3.Message);

        var none = w.Layer(w.Routing(2, MoeGating.Softmax, true));
        var missing = Assert.Throws<NotSupportedException>(() => new OpenCLMoeExecutor(fixture.Context, none, (_, _, _) => null, OpenCLFixture.Options));
        Assert.Contains("no generated OpenCL program 'ferrum_moe_q8_0'", missing.Message);
        Assert.Contains("kernels.yaml", missing.Message);
        var topK = Assert.Throws<ArgumentException>(() => w.Create(fixture.Context, w.Routing(E + 1, MoeGating.Softmax, true)));
        Assert.Contains("experts per token (expert_used_count) 9 must be in 1..8", topK.Message);
    }

    [Fact]
    public unsafe void Forward_refuses_an_input_that_is_not_whole_rows_and_an_output_that_is_too_short()
    {
        var w = new MoeTestLayer(GgmlType.Q8_0, GgmlType.Q8_0, H, F, E, seed: 52);
        using IMoeExecutor layer = w.Create(fixture.Context, w.Routing(2, MoeGating.Softmax, true));
        var x = MoeTestLayer.Activations(2, H, seed: 53);
        var partial = Assert.Throws<ArgumentException>(() => layer.Forward(x.AsSpan(0, H + 1), new float[2 * H]));
        Assert.Contains($"input length {H + 1} is not a multiple of the hidden size {H}", partial.Message);
        var shortY = Assert.Throws<ArgumentException>(() => layer.Forward(x, new float[(2 * H) - 1]));
        Assert.Contains($"output length {(2 * H) - 1} is smaller than the input length {2 * H}", shortY.Message);
        var one = new float[1];
        fixed (float* p = one)
        {
            var at = (nint)p;
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward((float*)at, (float*)at, -1));
            Assert.Equal("tokens", ex.ParamName);
        }

        // Zero tokens is an empty batch, not an error; whole rows through the pointer overload match the span one.
        layer.Forward(ReadOnlySpan<float>.Empty, Span<float>.Empty);
        var viaSpan = new float[2 * H];
        var viaPointer = new float[2 * H];
        layer.Forward(x, viaSpan);
        fixed (float* px = x, py = viaPointer)
        {
            layer.Forward(px, py, 2);
        }

        Assert.Equal(viaSpan, viaPointer);
        Assert.Equal("opencl", layer.Backend);
        Assert.Equal(H, layer.Hidden);
    }
}
