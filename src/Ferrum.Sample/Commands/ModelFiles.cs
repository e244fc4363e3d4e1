using System.CommandLine;
using Ferrum.Gguf;

namespace Ferrum.Sample.Commands;

/// <summary>
/// How the commands open GGUF files: mapped (the default), or read whole into memory with <c>--no-mmap</c> (llama.cpp's
/// option) for files that may be rewritten or truncated while ferrum runs — a mapped file that shrinks ends the process
/// with SIGBUS.
/// </summary>
public static class ModelFiles
{
    /// <summary>The global <c>--no-mmap</c> option (every command).</summary>
    public static readonly Option<bool> NoMmapOption = new("--no-mmap")
    {
        Description = "Read model files into memory instead of mapping them (safe if the file changes on disk; costs its size in RAM).",
        Recursive = true,
    };

    // Set once per invocation from the parse result, before any command runs.
    private static readonly AsyncLocal<bool> NoMmap = new();

    /// <summary>Takes the option's value from <paramref name="parse"/> for the commands of this invocation.</summary>
    public static void Configure(ParseResult parse) => NoMmap.Value = parse.GetValue(NoMmapOption);

    /// <summary>Opens <paramref name="path"/> as the command line asks (<see cref="GgufOpenOptions.NoMmap"/> with --no-mmap).</summary>
    public static GgufFile Open(string path) => GgufFile.Open(path, new GgufOpenOptions { NoMmap = NoMmap.Value });
}
