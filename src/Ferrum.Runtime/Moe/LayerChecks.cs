using Ferrum.Quantization;

namespace Ferrum.Moe;

/// <summary>
/// The declaration checks the generated <c>Model.Load</c> methods run on a loaded layer. Plumbing for generated code
/// only (hidden from IntelliSense): its signatures may change with the generator.
/// </summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public static class LayerChecks
{
    /// <summary>Throws unless <paramref name="actual"/> equals <paramref name="expected"/> (ggml order: ne[0] first).</summary>
    public static void Shape(string model, string file, int layer, string tensor, IReadOnlyList<long> actual, params ReadOnlySpan<long> expected)
    {
        ArgumentNullException.ThrowIfNull(actual);
        var same = actual.Count == expected.Length;
        for (var i = 0; same && i < expected.Length; i++)
        {
            same = actual[i] == expected[i];
        }

        if (!same)
        {
            throw new ModelMismatchException(model, file, layer, $"tensor '{tensor}' shape", Format(expected), Format(actual));
        }
    }

    /// <summary>Throws unless <paramref name="actual"/> is one of the <paramref name="declared"/> formats of <paramref name="role"/>.</summary>
    public static void Format(string model, string file, int layer, string role, string tensor, GgmlType actual, ReadOnlySpan<GgmlType> declared)
    {
        if (declared.Contains(actual))
        {
            return;
        }

        var names = new List<string>();
        foreach (var f in declared)
        {
            names.Add(GgmlTypeInfo.Get(f).Name);
        }

        var actualName = GgmlTypeInfo.TryGet((uint)actual, out var info) ? info.Name : $"type {(uint)actual}";
        throw new ModelMismatchException(model, file, layer, $"tensor '{tensor}' format ({role})", $"one of [{string.Join(", ", names)}] as declared in kernels.yaml", actualName);
    }

    private static string Format(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    private static string Format(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";
}
