using System.Text;
using Ferrum.Inference;

namespace Ferrum.Model.Tests.Generation;

/// <summary>
/// A small hand-made vocabulary: control tokens (BOS, EOS, chat markers), multi-byte word pieces, and one token per byte.
/// Encode is greedy longest match (special text only when parseSpecial); it is only a test double for the loop.
/// </summary>
internal sealed class FakeTokenizer : ITokenizer
{
    public const int Bos = 0, Eos = 1, ImStart = 2, ImEnd = 3;
    private static readonly string[] Specials = ["<s>", "</s>", "<|im_start|>", "<|im_end|>"];
    private readonly List<byte[]> _pieces = [];
    private readonly int _byteBase;

    public FakeTokenizer(params string[] wordPieces) : this(wordPieces.Select(p => Encoding.UTF8.GetBytes(p)).ToArray())
    {
    }

    public FakeTokenizer(byte[][] pieces)
    {
        foreach (var s in Specials)
            _pieces.Add(Encoding.UTF8.GetBytes(s));
        _pieces.AddRange(pieces);
        _byteBase = _pieces.Count;
        for (int b = 0; b < 256; b++)
            _pieces.Add([(byte)b]);
    }

    public int VocabSize => _pieces.Count;
    public int? BosToken => Bos;
    public int? EosToken => Eos;
    public bool IsEndOfGeneration(int token) => token is Eos or ImEnd;

    /// <summary>The id of a word piece given to the constructor.</summary>
    public int Piece(string text) => Piece(Encoding.UTF8.GetBytes(text));

    public int Piece(byte[] bytes)
    {
        for (int i = Specials.Length; i < _byteBase; i++)
            if (_pieces[i].AsSpan().SequenceEqual(bytes))
                return i;
        throw new ArgumentException($"No piece {Convert.ToHexString(bytes)}");
    }

    public int ByteToken(byte b) => _byteBase + b;

    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = true)
    {
        var ids = new List<int>();
        if (addSpecial)
            ids.Add(Bos);
        var bytes = Encoding.UTF8.GetBytes(text);
        int at = 0;
        while (at < bytes.Length)
        {
            int best = -1, bestLen = 0;
            for (int id = 0; id < _byteBase; id++)
            {
                if (id < Specials.Length && !parseSpecial)
                    continue;
                var p = _pieces[id];
                if (p.Length > bestLen && bytes.AsSpan(at).StartsWith(p))
                {
                    best = id;
                    bestLen = p.Length;
                }
            }

            if (best < 0)
            {
                best = _byteBase + bytes[at];
                bestLen = 1;
            }

            ids.Add(best);
            at += bestLen;
        }

        return ids.ToArray();
    }

    public byte[] TokenBytes(int token, bool renderSpecial = false)
    {
        if ((uint)token >= (uint)_pieces.Count)
            throw new ArgumentOutOfRangeException(nameof(token));
        return token < Specials.Length && !renderSpecial ? [] : _pieces[token];
    }

    public string Decode(ReadOnlySpan<int> tokens, bool renderSpecial = false)
    {
        var bytes = new List<byte>();
        foreach (var t in tokens)
            bytes.AddRange(TokenBytes(t, renderSpecial));
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
