using System.CommandLine;
using System.CommandLine.Parsing;
using Ferrum.Backends.Cpu;

namespace Ferrum.Sample.Commands;

/// <summary>
/// The argument rules every command shares, attached by option name so a new command gets them too: thread counts in
/// 1..<see cref="CpuMoeOptions.MaxThreads"/>, no negative counts, finite sampling settings, files that are files, and an
/// output that is neither a directory nor one of the command's own input files. Broken rules are parse errors: one line
/// on stderr and exit 1, before any work starts.
/// </summary>
public static class CliValidation
{
    private static readonly HashSet<string> InputNames = ["--model", "--input", "file"];
    private static readonly HashSet<string> OutputNames = ["--output", "--out"];

    // Options and commands already given their rules: some option objects are static and shared by several commands,
    // and Main may run many times in one process (tests), so a rule is attached once per object.
    private static readonly HashSet<object> Done = new(ReferenceEqualityComparer.Instance);

    /// <summary>Adds the rules to <paramref name="command"/> and every subcommand.</summary>
    public static void Apply(Command command)
    {
        lock (Done)
        {
            foreach (var option in command.Options)
            {
                if (Done.Add(option))
                {
                    AddOptionRule(option);
                }
            }

            if (Done.Add(command))
            {
                command.Validators.Add(FilesRule);
            }
        }

        foreach (var sub in command.Subcommands)
        {
            Apply(sub);
        }
    }

    private static void AddOptionRule(Option option)
    {
        switch (option)
        {
            case Option<int> o when o.Name == "--threads":
                Range(o, 1, CpuMoeOptions.MaxThreads);
                break;
            case Option<int> o when o.Name is "--layer" or "--top-k" or "-n":
                Range(o, 0, int.MaxValue);
                break;
            case Option<int> o when o.Name is "--prefill" or "--ctx-size":
                Range(o, 1, 1 << 20);
                break;
            case Option<float> o when o.Name == "--temp":
                o.Validators.Add(r => Check<float>(r, o.Name, v => float.IsFinite(v) && v >= 0, "a finite number ≥ 0"));
                break;
            case Option<float> o when o.Name is "--top-p" or "--min-p":
                o.Validators.Add(r => Check<float>(r, o.Name, v => v is >= 0f and <= 1f, "in 0..1"));
                break;
            case Option<double> o when o.Name == "--seconds":
                o.Validators.Add(r => Check<double>(r, o.Name, v => double.IsFinite(v) && v > 0 && v <= 86400, "a number of seconds in (0, 86400]"));
                break;
            case Option<DirectoryInfo?> o when o.Name == "--emit":
                o.Validators.Add(r =>
                {
                    var path = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
                    if (!string.IsNullOrEmpty(path) && File.Exists(path))
                    {
                        r.AddError($"--emit '{path}' is a file; give a folder");
                    }
                });
                break;
            case Option<string> o when o.Name == "--formats":
                o.Validators.Add(r =>
                {
                    var text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
                    if (text != null && !BenchFormats.TryParse(text, out _, out var bad))
                    {
                        r.AddError(BenchFormats.Error(bad));
                    }
                });
                break;
            case Option<string> o when o.Name == "--tokens":
                o.Validators.Add(r =>
                {
                    var text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
                    var bad = text?.Split(',').FirstOrDefault(p => !(int.TryParse(p.Trim(), out var n) && n is >= 1 and <= 1 << 16));
                    if (bad != null)
                    {
                        r.AddError($"--tokens: '{bad}' is not a token count in 1..65536 (give a comma-separated list, e.g. 1,8,32)");
                    }
                });
                break;
        }
    }

    private static void Range(Option<int> o, int min, int max) =>
        o.Validators.Add(r => Check<int>(r, o.Name, v => v >= min && v <= max, max == int.MaxValue ? $"at least {min}" : $"in {min}..{max}"));

    // A value that does not even convert already has its parse error; the rule only judges converted values.
    private static void Check<T>(OptionResult r, string name, Func<T, bool> ok, string rule)
    {
        T value;
        try
        {
            value = r.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            return;
        }

        if (!ok(value))
        {
            r.AddError($"{name} {value} must be {rule}");
        }
    }

    // Inputs must not be directories; an output must not be a directory nor the same file as an input.
    private static void FilesRule(CommandResult result)
    {
        var inputs = new List<(string Name, string Path)>();
        var outputs = new List<(string Name, string Path)>();
        foreach (var child in result.Children)
        {
            (string Name, string? Value) v = child switch
            {
                OptionResult o when !o.Implicit => (o.Option.Name, o.Tokens.Count > 0 ? o.Tokens[^1].Value : null),
                ArgumentResult a => (a.Argument.Name, a.Tokens.Count > 0 ? a.Tokens[^1].Value : null),
                _ => (string.Empty, null),
            };
            if (string.IsNullOrEmpty(v.Value))
            {
                continue;
            }

            if (InputNames.Contains(v.Name))
            {
                inputs.Add((v.Name, v.Value));
            }
            else if (OutputNames.Contains(v.Name))
            {
                outputs.Add((v.Name, v.Value));
            }
        }

        foreach (var (name, path) in inputs)
        {
            if (Directory.Exists(path))
            {
                result.AddError($"{Label(name)} '{path}' is a directory, not a file");
            }
        }

        foreach (var (name, path) in outputs)
        {
            if (Directory.Exists(path))
            {
                result.AddError($"{name} '{path}' is a directory; give a file path");
                continue;
            }

            var parent = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(parent) && !Directory.Exists(parent))
            {
                result.AddError($"{name} '{path}': the folder '{parent}' does not exist");
                continue;
            }

            foreach (var (inName, inPath) in inputs)
            {
                if (SameFile(path, inPath))
                {
                    result.AddError($"{name} '{path}' is the same file as {Label(inName)} '{inPath}'; writing it would destroy the input");
                }
            }
        }
    }

    private static string Label(string name) => name.StartsWith('-') ? name : "the file argument";

    /// <summary>True when both paths name one file (same full path after resolving links).</summary>
    public static bool SameFile(string a, string b)
    {
        try
        {
            return string.Equals(Resolve(a), Resolve(b), OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    private static string Resolve(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        return info.Exists && info.LinkTarget != null ? info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full : full;
    }
}
