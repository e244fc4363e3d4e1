using System.Globalization;
using System.Text.Json;
using Ferrum.GgmlReference;
using Ferrum.Gguf;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>The <c>ferrum inspect --json</c> document states exactly what ggml reads from the same file.</summary>
public class GgufJsonTests
{
    [Fact]
    public void JsonDescribesTheFileAsGgmlReadsIt()
    {
        var path = GgufSamples.TempPath("json");
        try
        {
            GgufSamples.Writer(seed: 17, alignment: 64).WriteTo(path);
            var ggml = GgmlGgufReader.TryRead(path, withData: false);
            Assert.NotNull(ggml);
            using var file = GgufFile.Open(path);
            using var doc = JsonDocument.Parse(GgufJson.ToJson(file));
            var root = doc.RootElement;
            Assert.Equal(["version", "alignment", "data_offset", "metadata", "tensors"], root.EnumerateObject().Select(p => p.Name));
            Assert.Equal(ggml.Version, root.GetProperty("version").GetUInt32());
            Assert.Equal(ggml.Alignment, root.GetProperty("alignment").GetInt64());
            Assert.Equal(ggml.DataOffset, root.GetProperty("data_offset").GetInt64());

            var metadata = root.GetProperty("metadata").EnumerateArray().ToList();
            Assert.Equal(ggml.Metadata.Count, metadata.Count);
            for (var i = 0; i < metadata.Count; i++)
            {
                var (key, value) = ggml.Metadata[i];
                var m = metadata[i];
                Assert.Equal(key, m.GetProperty("key").GetString());
                Assert.Equal(value.Type.ShortName(), m.GetProperty("type").GetString());
                if (value.IsArray)
                {
                    Assert.Equal(value.ElementType.ShortName(), m.GetProperty("elem_type").GetString());
                    var items = m.GetProperty("value").EnumerateArray().ToList();
                    var expected = (System.Collections.IList)value.Value;
                    Assert.Equal(expected.Count, items.Count);
                    for (var j = 0; j < items.Count; j++)
                    {
                        AssertScalar(expected[j]!, items[j]);
                    }
                }
                else
                {
                    Assert.False(m.TryGetProperty("elem_type", out _));
                    AssertScalar(value.Value, m.GetProperty("value"));
                }
            }

            var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
            Assert.Equal(ggml.Tensors.Count, tensors.Count);
            for (var i = 0; i < tensors.Count; i++)
            {
                var (name, type, ne4, offset, size) = ggml.Tensors[i];
                var t = tensors[i];
                Assert.Equal(name, t.GetProperty("name").GetString());
                Assert.Equal(GgmlNative.TypeName(type), t.GetProperty("type").GetString());
                var shape = t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                Assert.Equal(ne4, shape.Concat(Enumerable.Repeat(1L, 4 - shape.Length)).ToArray());
                Assert.Equal(offset, t.GetProperty("offset").GetInt64());
                Assert.Equal(size, t.GetProperty("bytes").GetInt64());
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertScalar(object expected, JsonElement actual)
    {
        switch (expected)
        {
            case string s:
                Assert.Equal(s, actual.GetString());
                break;
            case bool b:
                Assert.Equal(b, actual.GetBoolean());
                break;
            case float f when !float.IsFinite(f):
                Assert.Equal(float.IsNaN(f) ? "NaN" : f > 0 ? "Infinity" : "-Infinity", actual.GetString());
                break;
            case double d when !double.IsFinite(d):
                Assert.Equal(double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity", actual.GetString());
                break;
            case float f:
                // round-trip form: parsing the text gives back the same bits
                Assert.Equal(BitConverter.SingleToInt32Bits(f), BitConverter.SingleToInt32Bits(float.Parse(actual.GetRawText(), CultureInfo.InvariantCulture)));
                break;
            case double d:
                Assert.Equal(BitConverter.DoubleToInt64Bits(d), BitConverter.DoubleToInt64Bits(double.Parse(actual.GetRawText(), CultureInfo.InvariantCulture)));
                break;
            default:
                // integers printed exactly
                Assert.Equal(Convert.ToString(expected, CultureInfo.InvariantCulture), actual.GetRawText());
                break;
        }

    }
}
