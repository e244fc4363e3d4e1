namespace Ferrum.Backends;

/// <summary>The argument checks of <see cref="IMoeExecutor.Forward(ReadOnlySpan{float}, Span{float})"/>, shared by the executors.</summary>
internal static class MoeExecutorRows
{
    /// <summary>
    /// Tokens in an input of <paramref name="inputLength"/> floats; <see cref="ArgumentException"/> when it is not a
    /// whole number of rows of <paramref name="hidden"/> or the output is shorter than the input.
    /// </summary>
    public static int Tokens(int inputLength, int outputLength, int hidden)
    {
        if (inputLength % hidden != 0)
        {
            throw new ArgumentException($"input length {inputLength} is not a multiple of the hidden size {hidden}", "x");
        }

        if (outputLength < inputLength)
        {
            throw new ArgumentException($"output length {outputLength} is smaller than the input length {inputLength}", "y");
        }

        return inputLength / hidden;
    }

    /// <summary>Floats in <paramref name="tokens"/> rows of <paramref name="hidden"/>; <see cref="ArgumentOutOfRangeException"/> for a negative count or a span too long.</summary>
    public static int Floats(int tokens, int hidden)
    {
        if (tokens < 0 || (long)tokens * hidden > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"tokens must be in 0..{int.MaxValue / hidden} for hidden size {hidden}");
        }

        return tokens * hidden;
    }
}
