using System.CommandLine;
using System.Diagnostics;
using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Sample.Commands;

/// <summary>
/// <c>ferrum moe FILE.gguf --layer N --input IN.f32 --output OUT.f32 [--backend cpu|opencl|metal] [--threads T] [--device D]</c>: runs one
/// MoE block (routed experts weighted plus shared experts; no residual, no norm) on raw float32 [tokens × hidden].
/// </summary>
public static class MoeCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The GGUF model." };
        var layer = new Option<int>("--layer") { Description = "Layer (block) index.", Required = true };
        var input = new Option<string>("--input") { Description = "Input: raw little-endian float32, [tokens × hidden].", Required = true };
        var output = new Option<string>("--output") { Description = "Output: raw little-endian float32, [tokens × hidden].", Required = true };
        var backend = new Option<string>("--backend") { Description = "Backend that runs the block (cpu, opencl, or metal on macOS).", DefaultValueFactory = _ => "cpu" };
        var device = OpenCLCommand.DeviceOption();
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all processors).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("moe", "Run the MoE block of one layer on raw float32 activations; architecture and routing come from the file's metadata.");
        cmd.Arguments.Add(file);
        cmd.Options.Add(layer);
        cmd.Options.Add(input);
        cmd.Options.Add(output);
        cmd.Options.Add(backend);
        cmd.Options.Add(threads);
        cmd.Options.Add(device);
        cmd.SetAction(parse => CliErrors.Guard(parse, () =>
        {
            var name = parse.GetValue(backend)!;
            if (string.Equals(name, "metal", StringComparison.OrdinalIgnoreCase))
            {
                MoeMetal.Run(parse.GetValue(file)!, parse.GetValue(layer), parse.GetValue(input)!, parse.GetValue(output)!, Console.Out);
                return 0;
            }

            if (string.Equals(name, "opencl", StringComparison.OrdinalIgnoreCase))
            {
                OpenCLMoeRunner.Run(parse.GetValue(file)!, parse.GetValue(layer), parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(device), Backends.OpenCL.OpenCLMoePath.Auto, Console.Out);
                return 0;
            }

            if (!string.Equals(name, "cpu", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"backend '{name}' is not available for 'moe' (available: cpu, opencl, metal)");
            }

            int t = parse.GetValue(threads);
            if (t < 1)
            {
                throw new ArgumentException($"--threads must be at least 1, got {t}");
            }

            Run(parse.GetValue(file)!, parse.GetValue(layer), parse.GetValue(input)!, parse.GetValue(output)!, t, Console.Out);
            return 0;
        }));
        return cmd;
    }

    /// <summary>Runs the block and writes the output; reports the kernels that ran to <paramref name="log"/>.</summary>
    public static void Run(string path, int layerIndex, string inputPath, string outputPath, int threads, TextWriter log)
    {
        using var gguf = ModelFiles.Open(path);
        using var layer = MoeLayer.Load(gguf, layerIndex);
        int hidden = layer.Hidden;
        var x = RawFloats.ReadTokens(inputPath, hidden);
        int tokens = x.Length / hidden;
        var y = new float[x.Length];
        using var moe = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = threads, MaxTokens = Math.Min(tokens, 512) });
        var sw = Stopwatch.StartNew();
        moe.Forward(x, y);
        sw.Stop();
        RawFloats.Write(outputPath, y);

        log.WriteLine($"{layer.Architecture} layer {layerIndex}: {tokens} token(s) × {hidden}, {layer.Experts} experts, top-{layer.TopK}" +
            $"{(layer.HasSharedExpert ? ", shared expert" : string.Empty)}{(layer.FusedGateUp ? ", fused gate/up" : string.Empty)}");
        log.WriteLine($"backend cpu, {moe.Threads} thread(s), SIMD {CpuSimd.Level}, {sw.Elapsed.TotalMilliseconds:F2} ms");
        foreach (var k in moe.KernelPaths)
        {
            log.WriteLine($"  {k}");
        }

        log.WriteLine($"wrote {outputPath}: {y.Length:N0} floats");
    }
}
