using System.CommandLine;
using Ferrum.Gguf;
using Ferrum.Sample.Demo;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary><c>ferrum run --model FILE.gguf</c>: the demo's measurement on any MoE GGUF file.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The MoE GGUF file.", Required = true };
        var prefill = new Option<int>("--prefill") { Description = "Prefill batch size in tokens.", DefaultValueFactory = _ => 128 };
        var cmd = new Command("run", "Load every MoE layer of a GGUF model (zero-copy), run decode and prefill through all of them on every backend, check a sample against the exact reference, and print a table.");
        cmd.Options.Add(model);
        cmd.Options.Add(prefill);
        cmd.Options.Add(DemoCommand.ThreadsOption);
        cmd.SetAction(parse => CliErrors.Guard(parse, () =>
        {
            var tokens = parse.GetValue(prefill);
            if (tokens < 1)
            {
                throw new ArgumentException($"--prefill must be at least 1, got {tokens}");
            }

            var path = parse.GetValue(model)!;
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"model file '{path}' not found");
            }

            using var file = ModelFiles.Open(path);
            return Measurement.Run(file, new MeasurementOptions { Threads = DemoCommand.Threads(parse), PrefillTokens = tokens }, AnsiConsole.Console);
        }));
        return cmd;
    }
}
