namespace Ferrum.Moe;

/// <summary>A GGUF file does not match the model declared in kernels.yaml (missing tensor, other shape or format).</summary>
public sealed class ModelMismatchException : Exception
{
    /// <summary>Creates the exception; the message names the model, file, layer, subject, expected and actual.</summary>
    public ModelMismatchException(string model, string file, int layer, string subject, string expected, string actual)
        : base($"model '{model}', layer {layer} of {file}: {subject}: expected {expected}, found {actual}")
    {
        Model = model;
        FilePath = file;
        Layer = layer;
        Subject = subject;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The declared model name.</summary>
    public string Model { get; }

    /// <summary>The GGUF file.</summary>
    public string FilePath { get; }

    /// <summary>The layer being loaded.</summary>
    public int Layer { get; }

    /// <summary>What differs: a tensor name or a metadata key.</summary>
    public string Subject { get; }

    /// <summary>What kernels.yaml declares.</summary>
    public string Expected { get; }

    /// <summary>What the file holds.</summary>
    public string Actual { get; }
}
