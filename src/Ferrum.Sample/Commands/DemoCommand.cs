using System.CommandLine;
using Ferrum.Gguf;
using Ferrum.Inference;
using Ferrum.Sample.Demo;
using Ferrum.Sample.Generation;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary>
/// <c>ferrum</c> with no arguments (or <c>ferrum demo</c>): builds the synthetic Qwen3-30B-A3B-shaped demo model once
/// into the user's cache folder, generates a few tokens with the whole model, then measures decode and prefill through
/// all its MoE layers on every backend.
/// </summary>
public static class DemoCommand
{
    public static readonly Option<int> ThreadsOption = new("--threads")
    {
        Description = "CPU threads (default: all processors).",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static Command Create()
    {
        var cmd = new Command("demo", "Build the demo model once (cached) and measure the MoE layers on every backend; the same as running 'ferrum' alone.");
        cmd.Options.Add(ThreadsOption);
        cmd.SetAction(Run);
        return cmd;
    }

    public static int Run(ParseResult parse) => CliErrors.Guard(parse, () =>
    {
        var console = AnsiConsole.Console;
        var path = DemoModel.CachePath;
        if (!File.Exists(path))
        {
            console.MarkupLine($"building the demo model once: {Markup.Escape(path)}");
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("quantizing experts", maxValue: 1);
                    DemoModel.EnsureBuilt(path, (fraction, name) =>
                    {
                        task.Value = fraction;
                        task.Description = Markup.Escape(name);
                    });
                    task.Value = 1;
                });
        }

        // The whole model end to end: tokenizer, attention and MoE layers, sampling.
        using (var runner = TextRunner.Open(path, Threads(parse), contextLength: 256))
        {
            var request = new GenerationRequest(DemoPrompt, MaxTokens: 24, new SamplingOptions { Temperature = 0.7f, Seed = 42 }, [], Chat: false);
            console.MarkupLine($"[bold]generate[/] ({Markup.Escape(runner.Architecture)}, {runner.KvCacheBytes / 1024} KiB f16 KV cache): [grey]{Markup.Escape(DemoPrompt)}[/]");
            var result = runner.Generate(request, null, CancellationToken.None);
            console.WriteLine(result.Text);
            console.MarkupLine(Markup.Escape(GenerateCommand.Summary(result)));
            console.WriteLine();
        }

        using var file = ModelFiles.Open(path);
        return Measurement.Run(file, new MeasurementOptions { Threads = Threads(parse) }, console);
    });

    /// <summary>The demo's prompt (its weights are random, so the text is too; the numbers are what it shows).</summary>
    public const string DemoPrompt = "The MoE layer routes each token to";

    /// <summary>The --threads value (its range is checked up front by <see cref="CliValidation"/>).</summary>
    public static int Threads(ParseResult parse) => parse.GetValue(ThreadsOption);
}
