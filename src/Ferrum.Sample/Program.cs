using System.CommandLine;
using Ferrum.Sample.Commands;

namespace Ferrum.Sample;

/// <summary>Entry point of the <c>ferrum</c> command-line tool.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("Ferrum: compile-time specialized MoE kernels for GGUF models.");
        root.Options.Add(CliErrors.VerboseOption);
        root.Subcommands.Add(ModelsCommand.Create());
        root.Subcommands.Add(KernelsCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(DequantCommand.Create());
        root.Subcommands.Add(MoeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.SetAction(parse => ModelsCommand.Run(parse));
        return root.Parse(args).Invoke();
    }
}
