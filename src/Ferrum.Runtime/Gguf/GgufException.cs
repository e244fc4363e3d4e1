namespace Ferrum.Gguf;

/// <summary>A GGUF lookup or usage error: a missing key or tensor, a value of the wrong type, a non-MoE file.</summary>
public class GgufException : Exception
{
    public GgufException(string message)
        : base(message)
    {
    }

    public GgufException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The bytes of a GGUF file are malformed or hostile. The message says what is wrong and where;
/// <see cref="ByteOffset"/> is the absolute file offset of the offending field.
/// </summary>
public sealed class GgufFormatException : GgufException
{
    public GgufFormatException(string source, long byteOffset, string problem)
        : base($"{source}: invalid GGUF at byte {byteOffset}: {problem}")
    {
        FileName = source;
        ByteOffset = byteOffset;
        Problem = problem;
    }

    /// <summary>The file (or buffer name) the error was found in.</summary>
    public string FileName { get; }

    /// <summary>Absolute offset in the file of the field found to be wrong.</summary>
    public long ByteOffset { get; }

    /// <summary>What is wrong, without the file name and offset.</summary>
    public string Problem { get; }
}
