using Ferrum.Backends.OpenCL;
using Ferrum.GgmlReference;
using Ferrum.Quantization;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>Every format's printed program builds on the device, and its decode matches ggml's to_float there.</summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLDequantTests(OpenCLFixture fixture)
{
    public static TheoryData<string> Formats()
    {
        var d = new TheoryData<string>();
        foreach (var f in OpenCLFixture.FormatNames)
        {
            d.Add(f);
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Device_dequant_matches_ggml_to_float(string format)
    {
        Assert.True(GgmlTypeInfo.TryParse(format, out var info));
        var ctx = fixture.Context;
        var program = ctx.BuildProgram(OpenCLProgramNames.Generic(info.Type), OpenCLFixture.Sources(info.Type, 0, 0)!, OpenCLMoeExecutor.BuildOptions(ctx.Device, OpenCLFixture.Options, OpenCLFixture.Hidden, OpenCLFixture.Ffn));
        const int n = 1024;
        var values = GgmlReferenceData.RandomFloats(n, seed: 100 + (int)info.Type);
        var bytes = GgmlReferenceData.Quantize((int)info.Type, values, n);
        var expected = GgmlReferenceData.ToFloat((int)info.Type, bytes, n);

        using var src = ctx.CreateBuffer<byte>(bytes);
        using var dst = ctx.CreateBuffer(n * 4);
        var name = "ferrum_dequant_" + format;
        var k = program.Kernel(name);
        OpenCLLaunch.Arg(ctx, k, 0, src);
        OpenCLLaunch.Arg(ctx, k, 1, dst);
        OpenCLLaunch.Arg(ctx, k, 2, n);
        OpenCLLaunch.Run(ctx, k, name, [n], default);
        var actual = new float[n];
        ctx.Read(dst, actual.AsSpan());

        // The device may contract multiply-add into fma; allow one rounding of the largest value.
        var scale = expected.Max(MathF.Abs);
        for (var i = 0; i < n; i++)
        {
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-6f * scale, $"{format} element {i}: ggml {expected[i]:R}, device {actual[i]:R}");
        }
    }
}
