using System.Text.Encodings.Web;
using System.Text.Json;

namespace Ferrum.Gguf;

/// <summary>
/// The machine-readable description of a GGUF file printed by <c>ferrum inspect --json</c>:
/// <c>{"version":N,"alignment":N,"data_offset":N,"metadata":[{"key":K,"type":T,"value":V},...],
/// "tensors":[{"name":S,"type":"q4_K","shape":[ne0,...],"offset":N,"bytes":N},...]}</c>.
/// Metadata and tensors are in file order; T is ggml's short type name; arrays carry "elem_type"; integers are exact;
/// floats use the shortest round-trip form (NaN and infinities, which JSON cannot hold, as the strings "NaN",
/// "Infinity", "-Infinity"); tensor offsets are relative to the data section.
/// </summary>
public static class GgufJson
{
    /// <summary>Writes the description of <paramref name="file"/> as compact UTF-8 JSON.</summary>
    public static void Write(GgufFile file, Stream output)
    {
        ArgumentNullException.ThrowIfNull(file);
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false });
        w.WriteStartObject();
        w.WriteNumber("version", file.Version);
        w.WriteNumber("alignment", file.Alignment);
        w.WriteNumber("data_offset", file.DataOffset);
        w.WriteStartArray("metadata");
        foreach (var kv in file.Metadata)
        {
            w.WriteStartObject();
            w.WriteString("key", kv.Key);
            w.WriteString("type", kv.Value.Type.ShortName());
            if (kv.Value.IsArray)
            {
                w.WriteString("elem_type", kv.Value.ElementType.ShortName());
            }

            w.WritePropertyName("value");
            WriteValue(w, kv.Value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("tensors");
        foreach (var t in file.Tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", t.Name);
            w.WriteString("type", t.TypeInfo.Name);
            w.WriteStartArray("shape");
            foreach (var ne in t.Shape)
            {
                w.WriteNumberValue(ne);
            }

            w.WriteEndArray();
            w.WriteNumber("offset", t.Offset);
            w.WriteNumber("bytes", t.ByteSize);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The description as a string.</summary>
    public static string ToJson(GgufFile file)
    {
        using var ms = new MemoryStream();
        Write(file, ms);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter w, GgufValue v)
    {
        if (!v.IsArray)
        {
            WriteScalar(w, v.RawScalar);
            return;
        }

        w.WriteStartArray();
        foreach (var e in v.RawArray)
        {
            if (e is GgufValue nested)
            {
                WriteValue(w, nested);
            }
            else
            {
                WriteScalar(w, e);
            }
        }

        w.WriteEndArray();
    }

    private static void WriteScalar(Utf8JsonWriter w, object value)
    {
        switch (value)
        {
            case byte x: w.WriteNumberValue(x); break;
            case sbyte x: w.WriteNumberValue(x); break;
            case ushort x: w.WriteNumberValue(x); break;
            case short x: w.WriteNumberValue(x); break;
            case uint x: w.WriteNumberValue(x); break;
            case int x: w.WriteNumberValue(x); break;
            case ulong x: w.WriteNumberValue(x); break;
            case long x: w.WriteNumberValue(x); break;
            case float x when float.IsFinite(x): w.WriteNumberValue(x); break;
            case double x when double.IsFinite(x): w.WriteNumberValue(x); break;
            case float x: w.WriteStringValue(NonFinite(x)); break;
            case double x: w.WriteStringValue(NonFinite(x)); break;
            case bool x: w.WriteBooleanValue(x); break;
            case string x: w.WriteStringValue(x); break;
            default: throw new InvalidOperationException($"unexpected value {value.GetType()}");
        }
    }

    private static string NonFinite(double x) => double.IsNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
}
