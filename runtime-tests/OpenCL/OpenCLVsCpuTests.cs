using Ferrum.Backends.Cpu;
using Ferrum.Backends.OpenCL;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;
using Xunit.Abstractions;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// The device executor against Ferrum's CPU path (CpuMoeExecutor, which quantizes activations to Q8 like ggml's CPU
/// backend) on the same GGUF layer, every format, decode and prefill: NMSE ≤ 5e-4, test-backend-ops' bar.
/// </summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLVsCpuTests(OpenCLFixture fixture, ITestOutputHelper output)
{
    private const int H = OpenCLFixture.Hidden;
    private const int F = OpenCLFixture.Ffn;
    private const int E = OpenCLFixture.Experts;

    public static TheoryData<string> Formats() => OpenCLDequantTests.Formats();

    [Theory]
    [MemberData(nameof(Formats))]
    public void Device_layer_matches_the_cpu_path(string format)
    {
        Assert.True(GgmlTypeInfo.TryParse(format, out var info));
        var w = new MoeTestLayer(info.Type, info.Type, H, F, E, seed: 70 + (int)info.Type);
        using var file = GgufFile.Open(OpenCLGgufLayerTests.Write(w, fused: false), "cpu-vs-opencl.gguf");
        using var layer = MoeLayer.Load(file, 1);
        using var device = new OpenCLMoeExecutor(fixture.Context, layer, OpenCLFixture.Sources, OpenCLFixture.Options);
        foreach (var tokens in new[] { 2, 17 })
        {
            var x = MoeTestLayer.Activations(tokens, H, seed: tokens);
            var cpuOut = new float[tokens * H];
            using (var cpu = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 1, MaxTokens = tokens }))
            {
                cpu.Forward(x, cpuOut);
            }

            var y = new float[tokens * H];
            device.Forward(x, y);
            var nmse = MoeTestLayer.Nmse(cpuOut.Select(v => (double)v).ToArray(), y);
            output.WriteLine($"{format} tokens={tokens}: NMSE vs CPU path {nmse:E2}");
            Assert.True(nmse <= 5e-4, $"{format} tokens={tokens}: NMSE vs CPU path {nmse:E3}");
        }
    }
}
