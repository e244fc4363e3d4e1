using System.CommandLine;
using Ferrum.Sample.Commands;

namespace Ferrum.Sample;

/// <summary>Entry point of the <c>ferrum</c> command-line tool.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // Piped output (logs, scripts, tests) has no terminal width: keep table rows on one line.
        if (Console.IsOutputRedirected)
        {
            Spectre.Console.AnsiConsole.Profile.Width = 200;
        }

        var root = new RootCommand("Ferrum: compile-time specialized MoE kernels for GGUF models.");
        root.Options.Add(CliErrors.VerboseOption);
        root.Options.Add(ModelFiles.NoMmapOption);
        root.Options.Add(DemoCommand.ThreadsOption);
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ModelsCommand.Create());
        root.Subcommands.Add(KernelsCommand.Create());
        root.Subcommands.Add(TuneCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(DequantCommand.Create());
        root.Subcommands.Add(MoeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(OpenCLCommand.Create());
        // `ferrum` alone runs the demo: build the demo model once, generate with it, then measure its MoE layers on every backend.
        root.SetAction(DemoCommand.Run);
        CliValidation.Apply(root);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h"))
        {
            // One line, no help screen: the first problem, naming the option and the rule.
            Console.Error.WriteLine($"ferrum: error: {parse.Errors[0].Message.ReplaceLineEndings(" ")}");
            return 1;
        }

        ModelFiles.Configure(parse);
        return parse.Invoke();
    }
}
