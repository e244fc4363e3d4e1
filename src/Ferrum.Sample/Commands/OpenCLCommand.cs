using System.CommandLine;
using System.Diagnostics;
using Ferrum.Backends.OpenCL;
using Ferrum.Gguf;
using Ferrum.Moe;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary>
/// <c>ferrum opencl</c>: lists the OpenCL devices; <c>ferrum opencl FILE.gguf --layer N --input IN.f32 --output OUT.f32
/// [--device D] [--path auto|matvec|tiled]</c> runs one MoE layer (routing, experts, weighted sum; no shared experts) on
/// a device with the OpenCL kernels generated from kernels.yaml. <see cref="OpenCLMoeRunner"/> does the work, so
/// <c>ferrum moe --backend opencl</c> runs the same code.
/// </summary>
public static class OpenCLCommand
{
    /// <summary>The device option shared with <c>moe --backend opencl</c>: an index or a name substring (else FERRUM_OPENCL_DEVICE).</summary>
    public static Option<string?> DeviceOption() => new("--device")
    {
        Description = $"OpenCL device: index (see `ferrum opencl`) or name substring; default {OpenCLDevice.EnvironmentVariable}, else the first GPU, else the first device.",
    };

    public static Command Create()
    {
        var file = new Argument<string?>("file") { Description = "A GGUF model; without it the devices are listed.", Arity = ArgumentArity.ZeroOrOne };
        var layer = new Option<int>("--layer") { Description = "Layer (block) index." };
        var input = new Option<string?>("--input") { Description = "Input: raw little-endian float32, [tokens × hidden]." };
        var output = new Option<string?>("--output") { Description = "Output: raw little-endian float32, [tokens × hidden]." };
        var path = new Option<OpenCLMoePath>("--path") { Description = "Expert kernels: auto (mat-vec for few tokens, tiled for many), matvec or tiled.", DefaultValueFactory = _ => OpenCLMoePath.Auto };
        var device = DeviceOption();
        var cmd = new Command("opencl", "List OpenCL devices, or run one MoE layer of a GGUF file on one.");
        cmd.Arguments.Add(file);
        cmd.Options.Add(layer);
        cmd.Options.Add(input);
        cmd.Options.Add(output);
        cmd.Options.Add(path);
        cmd.Options.Add(device);
        cmd.SetAction(parse => CliErrors.Guard(parse, () =>
        {
            var model = parse.GetValue(file);
            if (model is null)
            {
                ListDevices();
                return 0;
            }

            var i = parse.GetValue(input) ?? throw new ArgumentException("--input is required with a model file");
            var o = parse.GetValue(output) ?? throw new ArgumentException("--output is required with a model file");
            OpenCLMoeRunner.Run(model, parse.GetValue(layer), i, o, parse.GetValue(device), parse.GetValue(path), Console.Out);
            return 0;
        }));
        return cmd;
    }

    private static void ListDevices()
    {
        var devices = OpenCLDevice.All();
        if (devices.Count == 0)
        {
            throw new OpenCLException("no OpenCL device found: install an OpenCL driver (on Debian/Ubuntu: apt-get install pocl-opencl-icd ocl-icd-libopencl1)");
        }

        var table = new Table().AddColumns("#", "Platform", "Device", "Type", "Version", "Memory", "Subgroups");
        foreach (var d in devices)
        {
            table.AddRow(
                d.Index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(d.PlatformName),
                Markup.Escape(d.Name),
                d.IsGpu ? "GPU" : d.IsCpu ? "CPU" : "other",
                Markup.Escape(d.Version),
                $"{d.GlobalMemorySize / (1L << 20):N0} MiB",
                d.HasSubgroups ? "yes" : "no");
        }

        AnsiConsole.Write(table);
    }
}

/// <summary>Runs one GGUF MoE layer on an OpenCL device over raw float32 files (used by <c>ferrum opencl</c> and <c>ferrum moe --backend opencl</c>).</summary>
public static class OpenCLMoeRunner
{
    /// <summary>Reads the input, runs the layer, writes the output, reports device and timing to <paramref name="log"/>.</summary>
    public static void Run(string path, int layerIndex, string inputPath, string outputPath, string? device, OpenCLMoePath kernels, TextWriter log)
    {
        using var gguf = ModelFiles.Open(path);
        var hidden = gguf.GetMoeHyperParameters().EmbeddingLength;
        var x = RawFloats.ReadTokens(inputPath, hidden);
        var tokens = x.Length / hidden;

        // The device first: a wrong --device is reported before the weights are looked at.
        var dev = OpenCLDevice.Select(device);
        using var ctx = new OpenCLContext(dev);
        var sw = Stopwatch.StartNew();
        using var moe = MoeLayer.Load(gguf, layerIndex);
        using var layer = new OpenCLMoeExecutor(ctx, moe);
        var setup = sw.Elapsed;
        var y = new float[x.Length];
        sw.Restart();
        layer.Forward(x, y, kernels);
        var run = sw.Elapsed;
        RawFloats.Write(outputPath, y);
        log.WriteLine($"{moe.Architecture} layer {layerIndex}: {tokens} token(s) × {hidden}, {moe.Experts} experts, top-{moe.TopK}");
        log.WriteLine($"backend opencl, device {dev.DisplayName} ({(dev.IsGpu ? "GPU" : dev.IsCpu ? "CPU" : "other")}), weights {(layer.WeightsInPlace ? "used in place" : "copied to the device")}");
        log.WriteLine($"programs and buffers {setup.TotalMilliseconds:F1} ms, forward {run.TotalMilliseconds:F2} ms");
        log.WriteLine($"wrote {outputPath}: {y.Length:N0} floats");
    }
}
