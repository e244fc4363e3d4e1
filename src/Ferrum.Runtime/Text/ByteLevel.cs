namespace Ferrum.Text;

/// <summary>
/// GPT-2's byte↔character mapping used by byte-level BPE vocabularies: printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ')
/// stand for themselves, the other 68 bytes map in order to U+0100, U+0101, … So every token of a byte-level vocabulary
/// is a string of these 256 characters.
/// </summary>
public static class ByteLevel
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    public static char Encode(byte b) => ByteToChar[b];

    /// <summary>The byte-level string of some bytes (one character per byte).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (span, b) =>
        {
            for (var i = 0; i < b.Length; i++)
            {
                span[i] = ByteToChar[b[i]];
            }
        });
    }

    /// <summary>The byte a byte-level character stands for, or -1 when it is not one of the 256.</summary>
    public static int Decode(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    /// <summary>Appends the bytes of a byte-level string; false (nothing appended) when a character is not one of the 256.</summary>
    public static bool TryDecode(string text, List<byte> output)
    {
        foreach (var c in text)
        {
            if (Decode(c) < 0)
            {
                return false;
            }
        }
        foreach (var c in text)
        {
            output.Add((byte)Decode(c));
        }
        return true;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[324];
        Array.Fill(map, (short)-1);
        for (var b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (short)b;
        }
        return map;
    }
}
