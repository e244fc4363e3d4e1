using System.Diagnostics;
using System.Text;
using Ferrum.Generators.Tests.Infrastructure;
using Microsoft.CodeAnalysis;

namespace Ferrum.Generators.Tests;

/// <summary>
/// The generator never throws to the compiler (CS8785): 5,000 random and mutated manifests run through the real
/// driver, and every run must end with FER diagnostics located in the manifest, or none.
/// </summary>
public class FuzzTests
{
    private const int Iterations = 5000;

    private static readonly string[] Seeds =
    [
        TestManifests.AllFormats,
        TestManifests.Sized(2),
        "targets: [cpu]\nformats: [q4_K]\nmodels: []\n",
        """
        models:
          - name: tiny
            arch: qwen3moe
            hidden: 64
            expert_ffn: 32
            experts: 4
            top_k: 2
            roles: { gate: [q8_0], up: [q8_0], down: [q8_0] }
            batches: [1, 2]
        """,
    ];

    private static readonly string[] Junk =
    [
        ":", "-", "- ", "[", "]", "{", "}", ",", "\"", "'", "&a ", "*a", "!!int ", "!!map ", "|", ">", "#", "\t", " ", "\n",
        "---\n", "...\n", "? ", "%YAML 1.2\n", "é", "😀", "\u200B", "\uFEFF", "\u0085", "\r", "\\", "%", "@", "`",
        "~", "null", "<<: *a\n",
    ];

    private static readonly string[] Values =
    [
        "-1", "0", "1", "-2147483649", "2147483648", "99999999999999999999999", "1e9", "0x100", "1_000", "NaN", ".inf",
        "abc", "true", "[]", "{}", "[1, 2]", "{a: 1}", "~", "\"\"", "q4_K", "Q6_K", "iq2_xxs", "f64", "cuda", "métal",
        "qwen3moe", "3bad", "name with spaces", "\"quoted\\nnewline\"", "&x [1]", "*x", "!!binary aGk=", "|\n  block\n",
    ];

    [Fact]
    public void RandomAndMutatedManifestsOnlyProduceDiagnostics()
    {
        var random = new Random(20261126);
        var compilation = GeneratorHarness.CreateCompilation("internal static class Placeholder { }");
        var current = new InMemoryAdditionalText(GeneratorHarness.ManifestPath, Seeds[0]);
        var driver = GeneratorHarness.CreateDriver(false, current).RunGenerators(compilation);
        var clock = Stopwatch.StartNew();
        var withErrors = 0;
        var compiled = 0;
        for (var i = 0; i < Iterations; i++)
        {
            var yaml = i % 10 == 9 ? RandomText(random) : Mutate(Seeds[random.Next(Seeds.Length)], random);
            var next = new InMemoryAdditionalText(GeneratorHarness.ManifestPath, yaml);
            driver = driver.ReplaceAdditionalText(current, next).RunGenerators(compilation);
            current = next;

            var run = driver.GetRunResult();
            var result = run.Results.Single();
            if (result.Exception is not null)
            {
                Assert.Fail($"iteration {i}: the generator threw {result.Exception}\n--- manifest ---\n{yaml}");
            }

            // YAML also breaks lines at \r, NEL, LS and PS; counting each gives an upper bound on the lines.
            var lines = 1 + yaml.Count(c => c is '\n' or '\r' or '\u0085' or '\u2028' or '\u2029');
            foreach (var d in run.Diagnostics)
            {
                var span = d.Location.GetLineSpan();
                if (!d.Id.StartsWith("FER", StringComparison.Ordinal) || d.Id == "FER0099" || span.Path != GeneratorHarness.ManifestPath || span.StartLinePosition.Line >= lines)
                {
                    Assert.Fail($"iteration {i}: unexpected diagnostic {d} at {span}\n--- manifest ---\n{yaml}");
                }
            }

            if (run.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
            {
                withErrors++;
            }
            else if (i % 250 == 0 && result.GeneratedSources.Length > 0)
            {
                // Whatever is generated from a manifest without errors compiles.
                var output = compilation.AddSyntaxTrees(result.GeneratedSources.Select(s => s.SyntaxTree));
                Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
                compiled++;
            }
        }

        // Both kinds of input were exercised: broken manifests and ones that still generate code.
        Assert.InRange(withErrors, Iterations / 10, Iterations - 100);
        // Speed is not asserted (a shared CI machine varies); the duration is reported for the record.
        Console.WriteLine($"{Iterations} manifests fuzzed in {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static string Mutate(string seed, Random random)
    {
        var lines = seed.Split('\n').ToList();
        var count = random.Next(1, 5);
        for (var m = 0; m < count && lines.Count > 0; m++)
        {
            var at = random.Next(lines.Count);
            switch (random.Next(12))
            {
                case 0:
                    lines.RemoveAt(at);
                    break;
                case 1:
                    lines.Insert(at, lines[random.Next(lines.Count)]);
                    break;
                case 2:
                    (lines[at], lines[random.Next(lines.Count)]) = (lines[random.Next(lines.Count)], lines[at]);
                    break;
                case 3:
                    lines[at] = lines[at].Insert(random.Next(lines[at].Length + 1), Junk[random.Next(Junk.Length)]);
                    break;
                case 4:
                    lines[at] = ReplaceValue(lines[at], Values[random.Next(Values.Length)]);
                    break;
                case 5:
                    lines[at] = ReplaceNumber(lines[at], random);
                    break;
                case 6:
                    // Deep nesting, flow or block style.
                    var depth = random.Next(1, 400);
                    lines[at] = random.Next(2) == 0
                        ? ReplaceValue(lines[at], new string('[', depth) + new string(']', depth))
                        : string.Concat(Enumerable.Repeat("- ", depth)) + "x";
                    break;
                case 7:
                    lines[at] = lines[at].Replace("  ", "\t", StringComparison.Ordinal);
                    break;
                case 8:
                    lines[at] = lines[at].Length == 0 ? lines[at] : lines[at][..random.Next(lines[at].Length)];
                    break;
                case 9:
                    lines[at] = new string(' ', random.Next(0, 12)) + lines[at].TrimStart();
                    break;
                case 10:
                    lines[at] = ReplaceValue(lines[at], "\n" + new string(' ', random.Next(0, 8)) + "- " + Values[random.Next(Values.Length)]);
                    break;
                default:
                    lines.Insert(at, new string(' ', random.Next(0, 6)) + Junk[random.Next(Junk.Length)] + Values[random.Next(Values.Length)] + ": " + Values[random.Next(Values.Length)]);
                    break;
            }
        }

        return string.Join('\n', lines);
    }

    private static string ReplaceValue(string line, string value)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? line + value : line[..(colon + 1)] + " " + value;
    }

    private static string ReplaceNumber(string line, Random random)
    {
        var start = line.IndexOfAny("0123456789".ToCharArray());
        if (start < 0)
        {
            return line;
        }

        var end = start;
        while (end < line.Length && char.IsAsciiDigit(line[end]))
        {
            end++;
        }

        var number = random.Next(6) switch
        {
            0 => "-" + random.Next(1, 5000),
            1 => "0",
            2 => random.NextInt64().ToString(System.Globalization.CultureInfo.InvariantCulture) + "0",
            3 => "12a",
            4 => random.Next(1, 3000).ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => "1.5",
        };
        return line[..start] + number + line[end..];
    }

    private static string RandomText(Random random)
    {
        var s = new StringBuilder();
        var length = random.Next(0, 300);
        for (var i = 0; i < length; i++)
        {
            s.Append(random.Next(4) switch
            {
                0 => Junk[random.Next(Junk.Length)],
                1 => Values[random.Next(Values.Length)],
                2 => ((char)random.Next(0, 0xD800)).ToString(),
                _ => random.Next(3) == 0 ? "\n  " : " ",
            });
        }

        return s.ToString();
    }
}
