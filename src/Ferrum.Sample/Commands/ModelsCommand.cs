using System.CommandLine;
using Ferrum.Generated;

namespace Ferrum.Sample.Commands;

/// <summary><c>ferrum models</c>: the model shapes compiled in from kernels.yaml.</summary>
public static class ModelsCommand
{
    public static Command Create()
    {
        var cmd = new Command("models", "List the MoE model shapes compiled in from kernels.yaml.");
        cmd.SetAction(Run);
        return cmd;
    }

    public static int Run(ParseResult parse) => CliErrors.Guard(parse, () =>
    {
        Console.WriteLine($"{Qwen3_30B_A3B.Name}: arch {Qwen3_30B_A3B.Arch}, hidden {Qwen3_30B_A3B.Hidden}, expert FFN {Qwen3_30B_A3B.ExpertFfn}, {Qwen3_30B_A3B.Experts} experts, top-{Qwen3_30B_A3B.TopK}");
        return 0;
    });
}
