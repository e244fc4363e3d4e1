using System;
using System.Text;

namespace Ferrum.Generators.Helpers;

/// <summary>A small indenting text writer for generated code: four spaces per level, "\n" line endings.</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder builder = new();
    private int depth;

    public CodeWriter Line(string text = "")
    {
        if (text.Length > 0)
        {
            builder.Append(' ', depth * 4);
            builder.Append(text);
        }

        builder.Append('\n');
        return this;
    }

    /// <summary>Writes "{", indents, and returns a scope that closes with "}" (plus <paramref name="closeSuffix"/>).</summary>
    public Scope Block(string? header = null, string closeSuffix = "")
    {
        if (header is not null)
        {
            Line(header);
        }

        Line("{");
        depth++;
        return new Scope(this, closeSuffix);
    }

    public void Indent() => depth++;

    public void Outdent() => depth = Math.Max(0, depth - 1);

    /// <summary>
    /// Writes <paramref name="text"/> as a C# raw string literal assigned by the caller's prefix, choosing a delimiter
    /// longer than any run of quotes inside the text (so any MSL/OpenCL text is representable).
    /// </summary>
    public CodeWriter RawString(string prefix, string text, string suffix)
    {
        var longest = 0;
        var run = 0;
        foreach (var c in text)
        {
            run = c == '"' ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        var quotes = new string('"', Math.Max(3, longest + 1));
        Line(prefix + quotes);
        foreach (var line in text.Replace("\r\n", "\n").TrimEnd('\n').Split('\n'))
        {
            Line(line);
        }

        Line(quotes + suffix);
        return this;
    }

    public override string ToString() => builder.ToString();

    public readonly struct Scope : IDisposable
    {
        private readonly CodeWriter writer;
        private readonly string closeSuffix;

        public Scope(CodeWriter writer, string closeSuffix)
        {
            this.writer = writer;
            this.closeSuffix = closeSuffix;
        }

        public void Dispose()
        {
            writer.depth--;
            writer.Line("}" + closeSuffix);
        }
    }
}
