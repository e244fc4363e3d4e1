using System.Diagnostics;

namespace Ferrum.Cli.Tests;

/// <summary>Runs the built <c>ferrum</c> tool (ferrum.dll next to the tests) in a child process.</summary>
public static class FerrumProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunFrom(AppContext.BaseDirectory, null, args);

    /// <summary>Runs the ferrum.dll in <paramref name="folder"/> with extra environment variables (null value: unset).</summary>
    public static Result RunFrom(string folder, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(folder, "ferrum.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["NO_COLOR"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"ferrum {string.Join(' ', args)} did not finish in 3 minutes");
        }

        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
