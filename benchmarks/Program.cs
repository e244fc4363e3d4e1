using BenchmarkDotNet.Running;

namespace Ferrum.Benchmarks;

/// <summary>
/// Runs the benchmarks chosen on the command line, e.g. <c>--filter *Dequant*</c>; <c>cpu-kernels</c> and
/// <c>cpu-moe</c> run the Stopwatch harnesses of the CPU backend; <c>moe-layer</c> writes a one-layer MoE GGUF for <c>ferrum bench</c>; <c>soak</c> is the reliability soak (see docs/benchmarks.md).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "cpu-kernels")
        {
            Cpu.KernelMicroBench.Run(Console.Out, args.Length > 1 ? args[1] : null);
            return 0;
        }

        if (args.Length > 0 && args[0] == "cpu-kquants")
        {
            Cpu.KQuantMicroBench.Run(Console.Out, args.Length > 1 ? args[1] : null);
            return 0;
        }

        if (args.Length > 0 && args[0] == "cpu-kstream")
        {
            Cpu.KQuantStreamBench.Run(Console.Out);
            return 0;
        }

        if (args.Length > 0 && args[0] == "cpu-tokentile")
        {
            Cpu.TokenTileExperiment.Run(Console.Out);
            return 0;
        }

        if (args.Length > 0 && args[0] == "cpu-specialization")
        {
            Cpu.SpecializationBench.Run(Console.Out);
            return 0;
        }

        if (args.Length > 0 && args[0] == "cpu-moe")
        {
            Cpu.MoeBench.Run(args, Console.Out);
            return 0;
        }

        if (args.Length > 0 && args[0] == "moe-layer")
        {
            return Cpu.MoeLayerFile.Run(args, Console.Out);
        }

        if (args.Length > 0 && args[0] == "soak")
        {
            return Reliability.SoakBench.Run(args, Console.Out);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
