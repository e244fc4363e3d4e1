using System.Text;

namespace Ferrum.Inference;

/// <summary>
/// Turns the bytes of generated tokens into releasable text: UTF-8 characters split across tokens wait for their last
/// byte, and text that could still be the beginning of a stop string waits until it cannot. Once a stop string appears,
/// the text before it is released and nothing after it.
/// </summary>
internal sealed class StopStringStream
{
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly IReadOnlyList<string> _stops;
    private readonly int _longestStop;
    private readonly StringBuilder _held = new();
    private char[] _chars = new char[64];

    public StopStringStream(IReadOnlyList<string> stopStrings)
    {
        _stops = stopStrings;
        foreach (var s in stopStrings)
            _longestStop = Math.Max(_longestStop, s.Length);
    }

    /// <summary>True once a stop string has been found.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds one token's bytes; returns the text that can be released now.</summary>
    public string Append(ReadOnlySpan<byte> bytes) => Decode(bytes, flush: false);

    /// <summary>Ends the stream: incomplete UTF-8 becomes U+FFFD and all held text is released (up to a stop string).</summary>
    public string Flush() => Decode(ReadOnlySpan<byte>.Empty, flush: true);

    private string Decode(ReadOnlySpan<byte> bytes, bool flush)
    {
        if (Stopped)
            return "";
        int need = _decoder.GetCharCount(bytes, flush);
        if (need > _chars.Length)
            _chars = new char[Math.Max(need, _chars.Length * 2)];
        int n = _decoder.GetChars(bytes, _chars, flush);
        _held.Append(_chars, 0, n);
        if (_held.Length == 0)
            return "";

        string text = _held.ToString();
        int stopAt = -1;
        foreach (var stop in _stops)
        {
            int i = text.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (stopAt < 0 || i < stopAt))
                stopAt = i;
        }

        if (stopAt >= 0)
        {
            Stopped = true;
            _held.Clear();
            return text[..stopAt];
        }

        int keep = flush ? 0 : HeldSuffixLength(text);
        _held.Clear();
        _held.Append(text, text.Length - keep, keep);
        return keep == 0 ? text : text[..^keep];
    }

    // Longest suffix of the text that is a proper prefix of some stop string (it may still complete into one).
    private int HeldSuffixLength(string text)
    {
        for (int len = Math.Min(text.Length, _longestStop - 1); len > 0; len--)
        {
            var suffix = text.AsSpan(text.Length - len);
            foreach (var stop in _stops)
                if (stop.Length > len && stop.AsSpan().StartsWith(suffix, StringComparison.Ordinal))
                    return len;
        }

        return 0;
    }
}
