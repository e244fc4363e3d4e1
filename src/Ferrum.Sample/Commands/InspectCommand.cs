using System.CommandLine;
using Ferrum.Gguf;
using Spectre.Console;

namespace Ferrum.Sample.Commands;

/// <summary><c>ferrum inspect FILE.gguf [--json]</c>: the metadata and tensors of a GGUF file.</summary>
public static class InspectCommand
{
    private const int MaxArrayElementsShown = 6;
    private const int MaxValueChars = 120;

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The GGUF file to inspect." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (version, alignment, data_offset, metadata, tensors) instead of tables." };
        var cmd = new Command("inspect", "Show the metadata and tensors of a GGUF file.");
        cmd.Arguments.Add(file);
        cmd.Options.Add(json);
        cmd.SetAction(parse => CliErrors.Guard(parse, () =>
        {
            using var gguf = ModelFiles.Open(parse.GetValue(file)!);
            if (parse.GetValue(json))
            {
                using var stdout = Console.OpenStandardOutput();
                GgufJson.Write(gguf, stdout);
                stdout.Write("\n"u8);
            }
            else
            {
                PrintTables(gguf);
            }

            return 0;
        }));
        return cmd;
    }

    private static void PrintTables(GgufFile gguf)
    {
        var console = AnsiConsole.Console;
        console.MarkupLine($"[bold]{Markup.Escape(gguf.Path)}[/]: GGUF v{gguf.Version}, {gguf.FileSize:N0} bytes, alignment {gguf.Alignment}, data at byte {gguf.DataOffset:N0}");
        console.MarkupLine($"architecture: {Markup.Escape(gguf.Architecture ?? "(none)")}, {gguf.Metadata.Count} keys, {gguf.Tensors.Count} tensors, {gguf.Tensors.Sum(t => t.ByteSize):N0} tensor bytes");

        var meta = new Table().Border(TableBorder.Rounded).Title("metadata");
        meta.AddColumn("key");
        meta.AddColumn("type");
        meta.AddColumn("value");
        foreach (var kv in gguf.Metadata)
        {
            var type = kv.Value.IsArray ? $"{kv.Value.TypeName} ×{kv.Value.Count}" : kv.Value.TypeName;
            var value = kv.Value.Format(MaxArrayElementsShown);
            if (value.Length > MaxValueChars)
            {
                value = value[..(MaxValueChars - 3)] + "...";
            }

            meta.AddRow(Markup.Escape(kv.Key), Markup.Escape(type), Markup.Escape(value));
        }

        console.Write(meta);

        var tensors = new Table().Border(TableBorder.Rounded).Title("tensors");
        tensors.AddColumn("#", c => c.RightAligned());
        tensors.AddColumn("name");
        tensors.AddColumn("type");
        tensors.AddColumn("shape");
        tensors.AddColumn("offset", c => c.RightAligned());
        tensors.AddColumn("bytes", c => c.RightAligned());
        foreach (var t in gguf.Tensors)
        {
            tensors.AddRow(t.Index.ToString(), Markup.Escape(t.Name), Markup.Escape(t.TypeInfo.Name), Markup.Escape(t.ShapeString), t.Offset.ToString("N0"), t.ByteSize.ToString("N0"));
        }

        console.Write(tensors);
    }
}
