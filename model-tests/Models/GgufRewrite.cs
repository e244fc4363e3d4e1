using Ferrum.Gguf;

namespace Ferrum.Model.Tests.Models;

/// <summary>Copies a GGUF file with edits: metadata replaced or added, tensors dropped or re-declared.</summary>
public static class GgufRewrite
{
    /// <summary>
    /// Writes <paramref name="source"/> to <paramref name="target"/>; <paramref name="metadata"/> overrides/adds keys,
    /// tensors named in <paramref name="drop"/> are left out, <paramref name="truncate"/> re-declares a tensor with its
    /// last dimension halved (its data cut to match).
    /// </summary>
    public static void Copy(string source, string target, IReadOnlyDictionary<string, GgufValue>? metadata = null, IReadOnlyCollection<string>? drop = null, string? truncate = null)
    {
        using var f = GgufFile.Open(source);
        var w = new GgufWriter();
        foreach (var kv in f.Metadata)
        {
            if (kv.Key == "general.alignment" || (metadata?.ContainsKey(kv.Key) ?? false))
            {
                continue;
            }

            w.AddMetadata(kv.Key, kv.Value);
        }

        foreach (var (k, v) in metadata ?? new Dictionary<string, GgufValue>())
        {
            w.AddMetadata(k, v);
        }

        foreach (var t in f.Tensors)
        {
            if (drop?.Contains(t.Name) ?? false)
            {
                continue;
            }

            var shape = t.Shape.ToArray();
            var data = f.GetTensorBytes(t);
            if (t.Name == truncate)
            {
                shape[^1] /= 2;
                data = data[..(data.Length / 2)];
            }

            w.AddTensor(t.Name, t.Type, shape, data);
        }

        w.WriteTo(target);
    }
}
