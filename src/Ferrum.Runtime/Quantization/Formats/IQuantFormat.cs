namespace Ferrum.Quantization.Formats;

/// <summary>
/// A weight format as a type, so code can be generic over it (<c>ExpertStack&lt;Q4_K&gt;</c>) and the JIT
/// specializes every use. Implemented by the marker structs in this namespace, one per format Ferrum supports.
/// </summary>
public interface IQuantFormat
{
    /// <summary>The ggml type id of the format.</summary>
    static abstract GgmlType Type { get; }
}
