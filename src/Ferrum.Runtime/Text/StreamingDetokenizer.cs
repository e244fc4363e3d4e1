using System.Text;
using Ferrum.Inference;

namespace Ferrum.Text;

/// <summary>
/// Turns generated token ids into text as they arrive, never splitting a UTF-8 sequence: the bytes of a character
/// spread over several tokens (byte-level BPE pieces, SentencePiece byte fallback) are held back until the character
/// is complete. Concatenating every <see cref="Append"/> result and <see cref="Flush"/> gives exactly
/// <see cref="ITokenizer.Decode"/> of the whole sequence. Not thread-safe (one per generation stream).
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _renderSpecial;
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private char[] _chars = new char[64];

    /// <summary>A detokenizer for <paramref name="tokenizer"/>; control tokens render only when <paramref name="renderSpecial"/>.</summary>
    public StreamingDetokenizer(ITokenizer tokenizer, bool renderSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _renderSpecial = renderSpecial;
    }

    /// <summary>The text completed by this token (possibly empty while a character is still incomplete).</summary>
    public string Append(int token) => Decode(_tokenizer.TokenBytes(token, _renderSpecial), flush: false);

    /// <summary>Ends the stream: bytes of an unfinished character come out as U+FFFD, as <see cref="ITokenizer.Decode"/> renders them.</summary>
    public string Flush() => Decode([], flush: true);

    private string Decode(byte[] bytes, bool flush)
    {
        var needed = _decoder.GetCharCount(bytes, flush);
        if (needed > _chars.Length)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }
        var n = _decoder.GetChars(bytes, 0, bytes.Length, _chars, 0, flush);
        return new string(_chars, 0, n);
    }
}
