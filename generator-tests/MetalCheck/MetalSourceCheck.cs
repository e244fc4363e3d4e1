using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Ferrum.Generators.Tests.MetalCheck;

/// <summary>
/// Checks Metal Shading Language sources without Apple's compiler: (1) every <c>[[attribute]]</c> is validated
/// against an allow-list of MSL attribute names, argument forms and the parameter types they may sit on (clang would
/// silently ignore a misspelled one), each kernel's buffer indices are unique, kernels return void, and threadgroup
/// variables are declared only, uninitialized, in kernel bodies (MSL rules clang cannot know); (2) the attributes are blanked out
/// and threadgroup variables declared in a body get static storage (clang forbids an address space on an automatic
/// variable; MSL gives them per-threadgroup storage); (3) clang-15 parses and type-checks the result as C++17 against
/// the stand-in <c>metal_stdlib</c> next to this file, with warnings as errors.
/// </summary>
internal static partial class MetalSourceCheck
{
    private enum ArgForm
    {
        None,
        Index,
    }

    private static readonly string[] PositionTypes = ["uint", "ushort", "uint2", "ushort2", "uint3", "ushort3"];
    private static readonly string[] ScalarIndexTypes = ["uint", "ushort"];

    /// <summary>MSL attributes Ferrum may emit: argument form and allowed parameter types (null: not a parameter check).</summary>
    private static readonly Dictionary<string, (ArgForm Form, string[]? Types)> Allowed = new(StringComparer.Ordinal)
    {
        ["buffer"] = (ArgForm.Index, null),
        ["threadgroup"] = (ArgForm.Index, null),
        ["texture"] = (ArgForm.Index, null),
        ["sampler"] = (ArgForm.Index, null),
        ["function_constant"] = (ArgForm.Index, null),
        ["max_total_threads_per_threadgroup"] = (ArgForm.Index, null),
        ["thread_position_in_grid"] = (ArgForm.None, PositionTypes),
        ["thread_position_in_threadgroup"] = (ArgForm.None, PositionTypes),
        ["threadgroup_position_in_grid"] = (ArgForm.None, PositionTypes),
        ["threadgroups_per_grid"] = (ArgForm.None, PositionTypes),
        ["threads_per_threadgroup"] = (ArgForm.None, PositionTypes),
        ["threads_per_grid"] = (ArgForm.None, PositionTypes),
        ["dispatch_threads_per_threadgroup"] = (ArgForm.None, PositionTypes),
        ["thread_index_in_threadgroup"] = (ArgForm.None, ScalarIndexTypes),
        ["thread_index_in_simdgroup"] = (ArgForm.None, ScalarIndexTypes),
        ["thread_index_in_quadgroup"] = (ArgForm.None, ScalarIndexTypes),
        ["simdgroup_index_in_threadgroup"] = (ArgForm.None, ScalarIndexTypes),
        ["simdgroups_per_threadgroup"] = (ArgForm.None, ScalarIndexTypes),
        ["threads_per_simdgroup"] = (ArgForm.None, ScalarIndexTypes),
        ["thread_execution_width"] = (ArgForm.None, ScalarIndexTypes),
    };

    /// <summary>Directory holding the stand-in <c>metal_stdlib</c> (copied next to the test assembly).</summary>
    public static string IncludeDirectory => Path.Combine(AppContext.BaseDirectory, "MetalCheck");

    /// <summary>Attribute problems of one source, each naming the line; empty when all are valid.</summary>
    public static IReadOnlyList<string> CheckAttributes(string name, string source)
    {
        var problems = new List<string>();
        var buffersByKernel = new Dictionary<string, HashSet<int>>();
        foreach (Match m in AttributeRegex().Matches(source))
        {
            var line = LineOf(source, m.Index);
            var kernel = EnclosingKernel(source, m.Index);
            var declaration = ParameterText(source, m.Index);
            foreach (var attr in SplitTopLevel(m.Groups[1].Value))
            {
                var am = AttributeItemRegex().Match(attr);
                if (!am.Success)
                {
                    problems.Add($"{name}:{line}: malformed attribute [[{attr}]]");
                    continue;
                }

                var attrName = am.Groups["name"].Value;
                var hasArgs = am.Groups["args"].Success;
                var args = am.Groups["args"].Value.Trim();
                if (!Allowed.TryGetValue(attrName, out var rule))
                {
                    problems.Add($"{name}:{line}: unknown Metal attribute [[{attrName}]]");
                    continue;
                }

                if (rule.Form == ArgForm.None && hasArgs)
                {
                    problems.Add($"{name}:{line}: [[{attrName}]] takes no arguments");
                    continue;
                }

                if (rule.Form == ArgForm.Index && (!hasArgs || !int.TryParse(args, out _)))
                {
                    problems.Add($"{name}:{line}: [[{attrName}(n)]] needs one integer index, got '{args}'");
                    continue;
                }

                var type = ParameterType(declaration);
                if (rule.Types is not null && !rule.Types.Contains(type))
                {
                    problems.Add($"{name}:{line}: [[{attrName}]] cannot be given to a parameter of type '{type}' (allowed: {string.Join(", ", rule.Types)})");
                }

                if (attrName == "buffer")
                {
                    if (!(declaration.Contains("device ") || declaration.Contains("constant ")) || !(declaration.Contains('*') || declaration.Contains('&')))
                    {
                        problems.Add($"{name}:{line}: [[buffer]] needs a device or constant pointer or reference, got '{declaration.Trim()}'");
                    }

                    var set = buffersByKernel.TryGetValue(kernel, out var s) ? s : buffersByKernel[kernel] = [];
                    if (!set.Add(int.Parse(args)))
                    {
                        problems.Add($"{name}:{line}: buffer index {args} is bound twice in kernel {kernel}");
                    }
                }

                if (attrName == "threadgroup" && !(declaration.Contains("threadgroup ") && declaration.Contains('*')))
                {
                    problems.Add($"{name}:{line}: [[threadgroup]] needs a threadgroup pointer, got '{declaration.Trim()}'");
                }
            }
        }

        foreach (Match m in NonVoidKernelRegex().Matches(source))
        {
            problems.Add($"{name}:{LineOf(source, m.Index)}: a kernel function must return void");
        }

        foreach (Match m in ThreadgroupInitRegex().Matches(source))
        {
            problems.Add($"{name}:{LineOf(source, m.Index)}: threadgroup variables cannot have initializers");
        }

        // MSL allows threadgroup variables only in the body of a kernel function (not at program scope, not in helpers).
        var functions = TopLevelFunctions(source);
        foreach (Match m in AnyThreadgroupVariableRegex().Matches(source))
        {
            var f = functions.FirstOrDefault(x => x.Start < m.Index && m.Index < x.End);
            if (f.Header is null || !KernelNameRegex().IsMatch(f.Header))
            {
                problems.Add($"{name}:{LineOf(source, m.Index)}: threadgroup variables may be declared only in a kernel function");
            }
        }

        return problems;
    }

    /// <summary>The text clang checks: attributes blanked (same length, so columns stay right), threadgroup body variables static.</summary>
    public static string PrepareForClang(string source)
    {
        var blanked = AttributeRegex().Replace(source, m => new string(' ', m.Length));
        return ThreadgroupVariableRegex().Replace(blanked, m => m.Groups[1].Value + "static " + m.Groups[2].Value);
    }

    /// <summary>Runs the whole check over several sources; returns (ok, report).</summary>
    public static (bool Ok, string Report) Check(IEnumerable<(string Name, string Source)> sources)
    {
        var report = new StringBuilder();
        var dir = Directory.CreateTempSubdirectory("ferrum-msl-");
        try
        {
            var files = new List<string>();
            foreach (var (name, source) in sources)
            {
                foreach (var p in CheckAttributes(name, source))
                {
                    report.AppendLine(p);
                }

                var path = Path.Combine(dir.FullName, name + ".metal");
                File.WriteAllText(path, PrepareForClang(source));
                files.Add(path);
            }

            if (files.Count == 0)
            {
                return (false, "no sources to check");
            }

            var (code, output) = RunClang(files);
            if (code != 0 || output.Trim().Length > 0)
            {
                report.AppendLine($"clang exited with {code}:").Append(output);
            }

            return (report.Length == 0, report.ToString());
        }
        finally
        {
            dir.Delete(true);
        }
    }

    /// <summary>clang-15 from /usr/bin or PATH; a clear error when it is not installed.</summary>
    public static string FindClang()
    {
        const string Fixed = "/usr/bin/clang-15";
        if (File.Exists(Fixed))
        {
            return Fixed;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "clang-15");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("clang-15 was not found in /usr/bin or on PATH; the Metal source check needs it (CI installs it: apt-get install clang-15)");
    }

    private static (int Code, string Output) RunClang(IReadOnlyList<string> files)
    {
        var psi = new ProcessStartInfo(FindClang()) { RedirectStandardError = true, RedirectStandardOutput = true };
        string[] flags =
        [
            "-x", "c++", "-std=c++17", "-fsyntax-only", "-nostdinc", "-nostdinc++", "-I", IncludeDirectory,
            "-Wall", "-Wimplicit-float-conversion", "-Wno-implicit-int-float-conversion", "-Werror",
            "-fno-caret-diagnostics",
        ];
        foreach (var a in flags)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var f in files)
        {
            psi.ArgumentList.Add(f);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start clang-15");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static int LineOf(string s, int index)
    {
        var line = 1;
        for (var i = 0; i < index; i++)
        {
            if (s[i] == '\n')
            {
                line++;
            }
        }

        return line;
    }

    /// <summary>Bodies of program-scope functions: (header text, body start, body end), comments ignored.</summary>
    private static List<(string? Header, int Start, int End)> TopLevelFunctions(string source)
    {
        var code = CommentRegex().Replace(source, m => new string(' ', m.Length));
        var list = new List<(string?, int, int)>();
        var depth = 0;
        var headerStart = 0;
        var bodyStart = 0;
        string? header = null;
        for (var i = 0; i < code.Length; i++)
        {
            var c = code[i];
            if (c == '{')
            {
                if (depth == 0)
                {
                    header = code[headerStart..i];
                    bodyStart = i;
                }

                depth++;
            }
            else if (c == '}')
            {
                depth--;
                if (depth == 0)
                {
                    list.Add((header, bodyStart, i));
                    headerStart = i + 1;
                }
            }
            else if (c == ';' && depth == 0)
            {
                headerStart = i + 1;
            }
        }

        return list;
    }

    /// <summary>Name of the kernel whose parameter list holds <paramref name="index"/>, or "(program scope)".</summary>
    private static string EnclosingKernel(string s, int index)
    {
        var best = "(program scope)";
        foreach (Match m in KernelNameRegex().Matches(s))
        {
            if (m.Index > index)
            {
                break;
            }

            best = m.Groups[1].Value;
        }

        return best;
    }

    /// <summary>The declaration in front of an attribute: back to the previous '(' or ',' at the same nesting.</summary>
    private static string ParameterText(string s, int index)
    {
        var depth = 0;
        var i = index - 1;
        for (; i >= 0; i--)
        {
            var c = s[i];
            if (c == ')' || c == '>')
            {
                depth++;
            }
            else if ((c == '(' || c == '<') && depth > 0)
            {
                depth--;
            }
            else if ((c == '(' || c == ',' || c == ';' || c == '{' || c == '}') && depth == 0)
            {
                break;
            }
        }

        return s.Substring(i + 1, index - i - 1);
    }

    /// <summary>"ushort tiisg" gives "ushort": the declaration without its trailing name.</summary>
    private static string ParameterType(string declaration)
    {
        var tokens = declaration.Split([' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        return tokens.Length < 2 ? string.Empty : string.Join(" ", tokens[..^1]);
    }

    private static IEnumerable<string> SplitTopLevel(string s)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '(')
            {
                depth++;
            }
            else if (s[i] == ')')
            {
                depth--;
            }
            else if (s[i] == ',' && depth == 0)
            {
                yield return s[start..i].Trim();
                start = i + 1;
            }
        }

        yield return s[start..].Trim();
    }

    [GeneratedRegex(@"\[\[(.*?)\]\]", RegexOptions.Singleline)]
    private static partial Regex AttributeRegex();

    [GeneratedRegex(@"^(?<name>[A-Za-z_][A-Za-z0-9_]*)\s*(\((?<args>[^()]*)\))?$")]
    private static partial Regex AttributeItemRegex();

    [GeneratedRegex(@"\bkernel\s+void\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(")]
    private static partial Regex KernelNameRegex();

    [GeneratedRegex(@"\bkernel\s+(?!void\b)[A-Za-z_]\w*\s+[A-Za-z_]\w*\s*\(")]
    private static partial Regex NonVoidKernelRegex();

    // A declaration statement starting a line with `threadgroup`, no pointer, followed by a name and `[` or `;`.
    [GeneratedRegex(@"^([ \t]+)(threadgroup\s+[A-Za-z_][\w:]*(?:<[^>;]*>)?\s+[A-Za-z_]\w*\s*(?:\[|;))", RegexOptions.Multiline)]
    private static partial Regex ThreadgroupVariableRegex();

    // Any threadgroup variable declaration (not a pointer), indented or not.
    [GeneratedRegex(@"^[ \t]*threadgroup\s+[A-Za-z_][\w:]*(?:<[^>;]*>)?\s+[A-Za-z_]\w*\s*(?:\[|;|=)", RegexOptions.Multiline)]
    private static partial Regex AnyThreadgroupVariableRegex();

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex CommentRegex();

    [GeneratedRegex(@"^[ \t]*threadgroup\s+[A-Za-z_][\w:]*(?:<[^>;]*>)?\s+[A-Za-z_]\w*\s*(?:\[[^\]]*\]\s*)*=", RegexOptions.Multiline)]
    private static partial Regex ThreadgroupInitRegex();
}
