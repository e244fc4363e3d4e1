namespace Ferrum.Quantization.Formats;

/// <summary>
/// A weight format as a type, so code can be generic over it (<c>ExpertStack&lt;Q4_K&gt;</c>) and the JIT
/// specializes every use. Implemented by the marker structs in this namespace, one per <see cref="FormatRow"/>;
/// the members repeat the row's facts as JIT-time constants (a test checks each marker against its row).
/// </summary>
public interface IQuantFormat
{
    /// <summary>The ggml type id of the format.</summary>
    static abstract GgmlType Type { get; }

    /// <summary>Elements per block (<see cref="FormatRow.BlockElements"/>).</summary>
    static abstract int BlockElements { get; }

    /// <summary>Bytes per block (<see cref="FormatRow.BlockBytes"/>).</summary>
    static abstract int BlockBytes { get; }

    /// <summary>What activations are converted to for the dot product (<see cref="FormatRow.ActivationType"/>).</summary>
    static abstract GgmlType ActivationType { get; }
}
