namespace Ferrum.Text;

/// <summary>The token types of <c>tokenizer.ggml.token_type</c>, with llama.cpp's numbering (llama_token_type).</summary>
public enum TokenType
{
    /// <summary>0: no type given.</summary>
    Undefined = 0,

    /// <summary>1: an ordinary piece of text.</summary>
    Normal = 1,

    /// <summary>2: the unknown token (&lt;unk&gt;).</summary>
    Unknown = 2,

    /// <summary>3: a control token (BOS, EOS, chat markers): matched as special text, rendered only on request.</summary>
    Control = 3,

    /// <summary>4: a user-defined token: matched as special text, always rendered as its text.</summary>
    UserDefined = 4,

    /// <summary>5: an unused slot.</summary>
    Unused = 5,

    /// <summary>6: a byte-fallback token (&lt;0xNN&gt;) of a SentencePiece vocabulary.</summary>
    Byte = 6,
}
