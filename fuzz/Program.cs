using System.Diagnostics;
using Ferrum.Gguf;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Gguf;
using SharpFuzz;

namespace Ferrum.Fuzz;

/// <summary>
/// Fuzzes <see cref="GgufFile.Open(byte[], string)"/>: an input must either open (and then be fully readable) or
/// throw <see cref="GgufFormatException"/>; anything else is a finding.
/// <list type="bullet">
/// <item><c>afl</c>: SharpFuzz AFL loop (run under afl-fuzz with an instrumented Ferrum.Runtime.dll).</item>
/// <item><c>inproc SECONDS [SEED]</c>: in-process random-mutation campaign with the test suite's mutator.</item>
/// <item><c>seeds DIR</c>: writes the seed corpus.</item>
/// <item><c>repro FILE...</c>: replays inputs and prints what each does.</item>
/// </list>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "afl":
                Fuzzer.Run(stream =>
                {
                    using var ms = new MemoryStream();
                    stream.CopyTo(ms);
                    Target(ms.ToArray());
                });
                return 0;
            case "inproc":
                return InProcess(TimeSpan.FromSeconds(double.Parse(args[1])), args.Length > 2 ? int.Parse(args[2]) : Environment.TickCount);
            case "seeds":
                Directory.CreateDirectory(args[1]);
                for (var i = 0; i < Seeds().Count; i++)
                {
                    File.WriteAllBytes(Path.Combine(args[1], $"seed{i}.gguf"), Seeds()[i]);
                }

                return 0;
            case "repro":
                foreach (var path in args.Skip(1))
                {
                    try
                    {
                        Target(File.ReadAllBytes(path));
                        Console.WriteLine($"{path}: ok");
                    }
                    catch (Exception e)
                    {
                        Console.WriteLine($"{path}: {e}");
                    }
                }

                return 0;
            default:
                Console.Error.WriteLine("usage: Ferrum.Fuzz afl | inproc SECONDS [SEED] | seeds DIR | repro FILE...");
                return 2;
        }
    }

    /// <summary>The property under test. Throws (a finding) for anything but success or GgufFormatException.</summary>
    private static void Target(byte[] data)
    {
        GgufFile file;
        try
        {
            file = GgufFile.Open(data, "fuzz");
        }
        catch (GgufFormatException)
        {
            return;
        }

        using (file)
        {
            foreach (var kv in file.Metadata)
            {
                _ = kv.Value.Format(int.MaxValue);
            }

            foreach (var t in file.Tensors)
            {
                var bytes = file.GetTensorBytes(t);
                if (bytes.Length > 0 && bytes[0] + bytes[^1] == 1000)
                {
                    throw new UnreachableException();
                }
            }

            _ = GgufJson.ToJson(file);
            try
            {
                _ = file.GetMoeHyperParameters();
            }
            catch (GgufException e) when (e is not GgufFormatException)
            {
                // not a MoE file: a lookup error, fine
            }
        }
    }

    private static int InProcess(TimeSpan duration, int seed)
    {
        var rng = new Random(seed);
        var seeds = Seeds();
        var sw = Stopwatch.StartNew();
        long runs = 0, opened = 0, findings = 0;
        var corpus = new List<byte[]>(seeds);
        while (sw.Elapsed < duration)
        {
            var parent = corpus[rng.Next(corpus.Count)];
            var mutant = GgufMutator.Mutate(parent, rng);
            runs++;
            try
            {
                Target(mutant);
                if (IsValid(mutant))
                {
                    opened++;
                    if (corpus.Count < 4096)
                    {
                        corpus.Add(mutant); // valid mutants become parents: deeper structural variety
                    }
                }
            }
            catch (Exception e)
            {
                findings++;
                var path = Path.Combine(Path.GetTempPath(), $"ferrum-fuzz-finding-{seed}-{runs}.gguf");
                File.WriteAllBytes(path, mutant);
                Console.WriteLine($"FINDING {e.GetType().Name}: {e.Message} -> {path}");
            }
        }

        Console.WriteLine($"seed {seed}: {runs:N0} inputs in {sw.Elapsed.TotalSeconds:F0} s ({runs / sw.Elapsed.TotalSeconds:N0}/s), {opened:N0} opened, corpus {corpus.Count}, findings {findings}");
        return findings == 0 ? 0 : 1;
    }

    private static bool IsValid(byte[] data)
    {
        try
        {
            GgufFile.Open(data).Dispose();
            return true;
        }
        catch (GgufFormatException)
        {
            return false;
        }
    }

    private static List<byte[]> Seeds()
    {
        var list = new List<byte[]>();
        for (var variant = 0; variant < 4; variant++)
        {
            var w = new GgufWriter { Alignment = variant % 2 == 0 ? 32 : 8, Version = variant == 3 ? 2 : 3 };
            w.AddMetadata("general.architecture", variant % 2 == 0 ? "qwen3moe" : "deepseek2");
            var arch = variant % 2 == 0 ? "qwen3moe" : "deepseek2";
            w.AddMetadata(arch + ".expert_count", 4u);
            w.AddMetadata(arch + ".expert_used_count", 2u);
            w.AddMetadata(arch + ".embedding_length", 32u);
            w.AddMetadata(arch + ".block_count", 2u);
            w.AddMetadata(arch + ".expert_feed_forward_length", 64u);
            w.AddMetadata(arch + ".expert_shared_count", 1u);
            w.AddMetadata("s", "text");
            w.AddMetadata("toks", ["a", "bb", ""]);
            w.AddMetadata("n", GgufValue.FromArray([GgufValue.FromArray(new[] { 1u }), GgufValue.FromArray(new[] { 2.5 })]));
            w.AddMetadata("b", new[] { true, false });
            w.AddMetadata("i", (short)-3);
            var rng = new Random(variant);
            var types = new[] { GgmlType.F32, GgmlType.Q4_K, GgmlType.Q8_0, GgmlType.MXFP4 };
            for (var i = 0; i < 3; i++)
            {
                var info = GgmlTypeInfo.Get(types[(i + variant) % types.Length]);
                long[] shape = i == 1 ? [info.BlockSize, 2, 2] : [info.BlockSize, 1];
                var bytes = new byte[shape.Aggregate(1L, (a, b) => a * b) / info.BlockSize * info.TypeSize];
                rng.NextBytes(bytes);
                w.AddTensor($"blk.{i}.w", info.Type, shape, bytes);
            }

            list.Add(w.ToArray());
        }

        return list;
    }
}
