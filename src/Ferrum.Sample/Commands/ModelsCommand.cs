using System.CommandLine;
using Ferrum.Generated;
using Ferrum.Quantization;

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
        Console.WriteLine($"  gate [{Names(Qwen3_30B_A3B.GateFormats)}], up [{Names(Qwen3_30B_A3B.UpFormats)}], down [{Names(Qwen3_30B_A3B.DownFormats)}], batches [{string.Join(", ", Qwen3_30B_A3B.Batches.ToArray())}]");
        return 0;
    });

    private static string Names(ReadOnlySpan<GgmlType> formats)
    {
        var names = new List<string>();
        foreach (var f in formats)
        {
            names.Add(GgmlTypeInfo.Get(f).Name);
        }

        return string.Join(", ", names);
    }
}
