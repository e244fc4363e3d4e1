using System.CommandLine;
using Ferrum.Kernels;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary><c>ferrum kernels [--emit DIR]</c>: the kernels generated from kernels.yaml; --emit writes each OpenCL/Metal source to a file.</summary>
public static class KernelsCommand
{
    private static readonly Option<DirectoryInfo?> EmitOption = new("--emit")
    {
        Description = "Write every generated OpenCL (.cl) and Metal (.metal) source into this directory.",
    };

    public static Command Create()
    {
        var cmd = new Command("kernels", "List the kernels generated from kernels.yaml, or write the GPU sources to files.");
        cmd.Options.Add(EmitOption);
        cmd.SetAction(Run);
        return cmd;
    }

    public static int Run(ParseResult parse) => CliErrors.Guard(parse, () =>
    {
        var sources = KernelSourceCatalog.All;
        if (parse.GetValue(EmitOption) is { } dir)
        {
            Directory.CreateDirectory(dir.FullName);
            foreach (var source in sources)
            {
                var path = Path.Combine(dir.FullName, source.FileName);
                File.WriteAllText(path, source.Text);
                Console.WriteLine(path);
            }

            Console.WriteLine($"{sources.Count} kernel sources written to {dir.FullName}");
            return 0;
        }

        var rows = new List<string[]>();
        foreach (var entry in KernelRegistry.All)
        {
            rows.Add(["cpu", entry.Name, "MatVec (C#)", entry.Key.Format.ToString(), Shape(entry.Key), Batch(entry.Key), "-"]);
        }

        foreach (var source in sources)
        {
            var lines = source.Text.Count(c => c == '\n').ToString(System.Globalization.CultureInfo.InvariantCulture);
            rows.Add([source.Target.ToString().ToLowerInvariant(), source.Name, source.EntryPoint, source.Key.Format.ToString(), Shape(source.Key), Batch(source.Key), lines]);
        }

        string[] header = ["Target", "Kernel", "Entry point", "Format", "Shape", "Batch", "Lines"];
        if (Console.IsOutputRedirected)
        {
            // Piped output: one tab-separated line per kernel, never wrapped, easy to cut/grep.
            Console.WriteLine(string.Join('\t', header));
            foreach (var row in rows)
            {
                Console.WriteLine(string.Join('\t', row));
            }
        }
        else
        {
            var table = new Table().AddColumns(header);
            foreach (var row in rows)
            {
                table.AddRow(row.Select(Markup.Escape).ToArray());
            }

            AnsiConsole.Write(table);
        }

        Console.WriteLine($"{KernelRegistry.All.Count} CPU kernels, {sources.Count} GPU kernel sources");
        return 0;
    });

    private static string Shape(KernelKey key) => key.IsGeneric ? "any" : $"{key.Rows}x{key.RowLength}";

    private static string Batch(KernelKey key) => key.IsGeneric ? "any" : key.Batch.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
