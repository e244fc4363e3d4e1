namespace Ferrum.Gguf;

/// <summary>One metadata entry in file order; <see cref="ByteOffset"/> is where its key starts in the file.</summary>
public sealed class GgufKeyValue
{
    public GgufKeyValue(string key, GgufValue value, long byteOffset = -1)
    {
        Key = key ?? throw new ArgumentNullException(nameof(key));
        Value = value ?? throw new ArgumentNullException(nameof(value));
        ByteOffset = byteOffset;
    }

    public string Key { get; }

    public GgufValue Value { get; }

    /// <summary>Absolute offset of the entry in the file it was read from; -1 when not read from a file.</summary>
    public long ByteOffset { get; }

    public override string ToString() => $"{Key} = {Value}";
}
