extern alias Generators;

using System.Diagnostics;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using MatrixShape = Generators::Ferrum.Generators.Emit.Kernels.MatrixShape;
using Printer = Generators::Ferrum.Generators.Emit.Kernels.OpenCLMoePrinter;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>Every printed OpenCL program passes clang's OpenCL C 1.2 front end (the check catches a planted error).</summary>
public sealed class OpenCLSourceTests
{
    /// <summary>Every program the printer can produce: each format generic and specialized for Qwen3-30B-A3B's gate/up and down.</summary>
    public static IEnumerable<(string Name, string Source)> AllPrograms()
    {
        foreach (var f in FormatKernels.All)
        {
            yield return (Printer.ProgramName(f, null), Printer.PrintFormatProgram(f, null, $"ferrum_{f.Name}_generic"));
            foreach (var shape in new[] { new MatrixShape(768, 2048), new MatrixShape(2048, 768) })
            {
                yield return (Printer.ProgramName(f, shape), Printer.PrintFormatProgram(f, shape, $"ferrum_{f.Name}_{shape.Suffix}_b1", 1));
            }
        }
    }

    [Fact]
    public void Every_program_passes_clang_opencl_1_2_syntax_and_semantic_checks()
    {
        var dir = Directory.CreateTempSubdirectory("ferrum-cl-");
        try
        {
            var files = new List<string>();
            foreach (var (name, source) in AllPrograms())
            {
                var path = Path.Combine(dir.FullName, name + ".cl");
                File.WriteAllText(path, source);
                files.Add(path);
            }

            Assert.Equal(3 * FormatKernels.All.Count, files.Count);
            var (code, output) = Clang(files);
            Assert.True(code == 0, "clang-15 rejected the printed OpenCL C:\n" + output);
            Assert.True(output.Trim().Length == 0, "clang-15 warns about the printed OpenCL C:\n" + output);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void The_clang_check_catches_a_planted_error()
    {
        var dir = Directory.CreateTempSubdirectory("ferrum-cl-");
        try
        {
            var f = FormatKernels.All.Single(k => k.Name == "q4_K");
            var source = Printer.PrintFormatProgram(f, null).Replace("const float xv = x[k0 + j];", "const float xv = x[k0 + j] * undeclared_name;");
            var path = Path.Combine(dir.FullName, "planted.cl");
            File.WriteAllText(path, source);
            var (code, output) = Clang([path]);
            Assert.NotEqual(0, code);
            Assert.Contains("undeclared_name", output);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private static (int Code, string Output) Clang(IReadOnlyList<string> files)
    {
        var psi = new ProcessStartInfo("clang-15") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-x", "cl", "-cl-std=CL1.2", "-fsyntax-only", "-Wall", "-Werror=implicit-function-declaration" })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var f in files)
        {
            psi.ArgumentList.Add(f);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start clang-15 (CI installs it: apt-get install clang-15)");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}
