namespace Ferrum.Cli.Tests;

/// <summary>
/// Issue 16: random argument vectors built from the real commands and option names with hostile values, run through
/// Program.Main in this process. Every run must end with exit code 0, 1 or 2 — no unhandled exception, no crash.
/// Vectors never reach work that would build the demo model or run a timed benchmark (those need a real model path,
/// which the fuzzer gives only to the quick commands).
/// </summary>
[Collection(nameof(InProcessCli))]
public sealed class ArgumentFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-cli-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Two_thousand_seeded_random_argument_vectors_never_crash()
    {
        var (model, input) = InProcessCli.SmallModel(_dir);
        var output = Path.Combine(_dir, "out.f32");
        string[] numbers = ["-1", "0", "1", "2", "100000", "-2147483649", "2147483648", "NaN", "inf", "-0", "1e400", "abc", "", "0x10", "3.5"];
        string[] badPaths = [_dir, Path.Combine(_dir, "missing.gguf"), input, "", "/dev/null", Path.Combine(_dir, "no", "x"), "/"];
        var commands = new (string Name, string[] Positional, string[] Options, bool RealModel)[]
        {
            ("inspect", ["FILE"], ["--json"], true),
            ("dequant", ["FILE", "TENSOR"], [], true),
            ("moe", ["FILE"], ["--layer", "--input", "--output", "--backend", "--threads", "--device"], true),
            ("generate", [], ["--model", "--prompt", "-n", "--temp", "--top-k", "--top-p", "--min-p", "--seed", "--ctx-size", "--stop", "--chat", "--json", "--threads"], true),
            ("bench", [], ["--model", "--tokens", "--threads", "--json", "--seconds", "--formats"], false),
            ("run", [], ["--model", "--prefill", "--threads"], false),
            ("kernels", [], ["--json", "--threads"], false),
        };
        string[] flags = ["--json", "--chat", "--verbose", "--help", "--bogus", "-x", "--", "--no-mmap"];
        var rng = new Random(16);
        var exits = new Dictionary<int, int>();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 2000; i++)
        {
            var (name, positional, options, realModel) = commands[rng.Next(commands.Length)];
            string Path_() => realModel && rng.Next(3) == 0 ? model : badPaths[rng.Next(badPaths.Length)];
            string Value(string option) => option switch
            {
                "--model" or "--input" or "--output" => rng.Next(4) == 0 ? output : Path_(),
                "--backend" => new[] { "cpu", "gpu", "", "opencl" }[rng.Next(4)],
                "--device" => numbers[rng.Next(numbers.Length)],
                "--prompt" or "--stop" => new[] { "hi", "", "\0", "--threads" }[rng.Next(4)],
                "--tokens" => new[] { "1", "1,2", "0", "-1", ",", "99999999", "a,b" }[rng.Next(7)],
                _ => numbers[rng.Next(numbers.Length)],
            };

            var args = new List<string> { name };
            foreach (var p in positional)
            {
                if (rng.Next(6) != 0)
                {
                    args.Add(p == "FILE" ? Path_() : new[] { "blk.0.ffn_gate_inp.weight", "nope", "" }[rng.Next(3)]);
                }
            }

            int n = rng.Next(0, 6);
            for (int j = 0; j < n; j++)
            {
                var o = options.Length > 0 && rng.Next(5) != 0 ? options[rng.Next(options.Length)] : flags[rng.Next(flags.Length)];
                args.Add(o);
                if (o is not ("--json" or "--chat" or "--verbose" or "--help" or "--" or "--no-mmap") && rng.Next(8) != 0)
                {
                    args.Add(Value(o));
                }
            }

            // Keep the slow paths out: generate/bench/run without --model would build the demo model.
            if (name is "generate" or "bench" or "run" && !args.Contains("--model"))
            {
                args.Add("--model");
                args.Add(badPaths[rng.Next(badPaths.Length)]);
            }

            if (args.Contains("--verbose") && name is "bench" or "run")
            {
                args.Remove("--verbose");
            }

            int exit;
            try
            {
                exit = InProcessCli.Run(args.ToArray()).Exit;
            }
            catch (Exception e)
            {
                Assert.Fail($"ferrum {string.Join(' ', args.Select(a => $"'{a}'"))}: unhandled {e.GetType().Name}: {e.Message}");
                return;
            }

            Assert.True(exit is 0 or 1 or 2, $"ferrum {string.Join(' ', args.Select(a => $"'{a}'"))}: exit code {exit}");
            exits[exit] = exits.GetValueOrDefault(exit) + 1;
        }

        // The fuzzer must reach both successes and refusals to mean anything.
        Assert.True(exits.GetValueOrDefault(1) > 500, $"exit codes: {string.Join(", ", exits)}");
        Assert.True(exits.GetValueOrDefault(0) > 20, $"exit codes: {string.Join(", ", exits)}");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"fuzzing took {sw.Elapsed}");
    }
}
