using System.CommandLine;

namespace Ferrum.Sample.Commands;

/// <summary>One clear line and a non-zero exit for user errors; the stack trace only with --verbose.</summary>
public static class CliErrors
{
    public static readonly Option<bool> VerboseOption = new("--verbose")
    {
        Description = "Print stack traces for errors.",
        Recursive = true,
    };

    public static int Guard(ParseResult parse, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (!parse.GetValue(VerboseOption))
        {
            Console.Error.WriteLine($"ferrum: error: {e.Message}");
            return 1;
        }
    }
}
