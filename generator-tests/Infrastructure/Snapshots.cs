using System.Runtime.CompilerServices;
using System.Text;

namespace Ferrum.Generators.Tests.Infrastructure;

/// <summary>
/// Golden files under generator-tests/Snapshots/&lt;name&gt;/. FERRUM_ACCEPT_SNAPSHOTS=1 writes (accepts) them;
/// otherwise a mismatch writes &lt;file&gt;.received.&lt;ext&gt; next to the snapshot and fails with the first
/// differing lines. Every snapshot in the folder must still be produced (a vanished output fails too).
/// </summary>
public static class Snapshots
{
    private const string AcceptVariable = "FERRUM_ACCEPT_SNAPSHOTS";

    public static bool Accepting => Environment.GetEnvironmentVariable(AcceptVariable) == "1";

    /// <summary>Checks every (file name, text) against Snapshots/<paramref name="name"/>/file name.</summary>
    public static void Verify(string name, IReadOnlyList<(string FileName, string Text)> files, [CallerFilePath] string callerFile = "") =>
        VerifyIn(Path.Combine(ProjectDirectory(callerFile), "Snapshots", name), name, files, Accepting);

    /// <summary>Checks (or with <paramref name="accept"/> writes) every file against <paramref name="dir"/>.</summary>
    public static void VerifyIn(string dir, string name, IReadOnlyList<(string FileName, string Text)> files, bool accept)
    {
        Directory.CreateDirectory(dir);
        var failures = new StringBuilder();
        var expectedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (fileName, rawText) in files)
        {
            expectedNames.Add(fileName);
            var text = Normalize(rawText);
            var path = Path.Combine(dir, fileName);
            var received = ReceivedPath(path);
            if (accept)
            {
                File.WriteAllText(path, text);
                File.Delete(received);
                continue;
            }

            if (!File.Exists(path))
            {
                File.WriteAllText(received, text);
                failures.Append($"new output {name}/{fileName} has no snapshot (written to {Path.GetFileName(received)}; set {AcceptVariable}=1 to accept)\n");
                continue;
            }

            var expected = Normalize(File.ReadAllText(path));
            if (expected == text)
            {
                File.Delete(received);
                continue;
            }

            File.WriteAllText(received, text);
            failures.Append($"{name}/{fileName} differs from its snapshot (received: {Path.GetFileName(received)}):\n");
            failures.Append(Diff(expected, text));
        }

        foreach (var stale in Directory.GetFiles(dir).Select(Path.GetFileName).OfType<string>())
        {
            if (stale.Contains(".received.", StringComparison.Ordinal) || expectedNames.Contains(stale))
            {
                continue;
            }

            if (accept)
            {
                File.Delete(Path.Combine(dir, stale));
            }
            else
            {
                failures.Append($"snapshot {name}/{stale} was not generated any more\n");
            }
        }

        if (failures.Length > 0)
        {
            Assert.Fail(failures.ToString());
        }
    }

    /// <summary>"X.g.cs" → "X.g.received.cs", "diagnostics.txt" → "diagnostics.received.txt".</summary>
    private static string ReceivedPath(string path)
    {
        var dir = Path.GetDirectoryName(path)!;
        var file = Path.GetFileName(path);
        var ext = Path.GetExtension(file);
        return Path.Combine(dir, file[..^ext.Length] + ".received" + ext);
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>A short unified-style diff: the first differing line with two lines of context each side.</summary>
    private static string Diff(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        var first = 0;
        while (first < a.Length && first < b.Length && a[first] == b[first])
        {
            first++;
        }

        var s = new StringBuilder();
        s.Append($"@@ line {first + 1} @@\n");
        for (var i = Math.Max(0, first - 2); i < first; i++)
        {
            s.Append("  ").Append(a[i]).Append('\n');
        }

        for (var i = first; i < Math.Min(a.Length, first + 6); i++)
        {
            s.Append("- ").Append(a[i]).Append('\n');
        }

        for (var i = first; i < Math.Min(b.Length, first + 6); i++)
        {
            s.Append("+ ").Append(b[i]).Append('\n');
        }

        return s.ToString();
    }

    private static string ProjectDirectory(string callerFile)
    {
        var dir = Path.GetDirectoryName(callerFile);
        while (dir is not null && !File.Exists(Path.Combine(dir, "Ferrum.Generators.Tests.csproj")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException($"cannot find the test project above {callerFile}");
    }
}
