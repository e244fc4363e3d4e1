using System.Diagnostics;
using Ferrum.Backends.Metal;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Sample.Commands;

/// <summary>
/// <c>ferrum moe ... --backend metal</c>: one MoE block on the Metal GPU with the generated MSL kernels. Off macOS it
/// fails first, with "Metal is available only on macOS", before reading anything.
/// </summary>
public static class MoeMetal
{
    /// <summary>Runs the block of <paramref name="layerIndex"/> on raw float32 [tokens × hidden] input and writes the output.</summary>
    public static void Run(string path, int layerIndex, string inputPath, string outputPath, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        MetalPlatform.EnsureSupported();
        using var gguf = ModelFiles.Open(path);
        using var layer = MoeLayer.Load(gguf, layerIndex);
        int hidden = layer.Hidden;
        var x = RawFloats.ReadTokens(inputPath, hidden);
        int tokens = x.Length / hidden;
        var y = new float[x.Length];
        using var moe = new MetalMoeExecutor(layer);
        var sw = Stopwatch.StartNew();
        moe.Forward(x, y);
        sw.Stop();
        RawFloats.Write(outputPath, y);
        log.WriteLine($"{layer.Architecture} layer {layerIndex}: {tokens} token(s) × {hidden}, {layer.Experts} experts, top-{layer.TopK}");
        log.WriteLine($"backend metal ({moe.DeviceName}), {(tokens >= MetalMoePlan.PrefillTokens ? "prefill tiles" : "mat-vec")}, forward pass {sw.Elapsed.TotalMilliseconds:F2} ms (programs compiled beforehand)");
        log.WriteLine($"wrote {outputPath}: {y.Length:N0} floats");
    }
}
