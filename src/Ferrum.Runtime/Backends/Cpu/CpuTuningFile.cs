using System.Globalization;
using System.Text.Json;
using Ferrum.Quantization;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The cache file of kernel decisions (<c>cpu-tuning-v1.json</c>). A file that cannot be read, is not valid JSON,
/// names an unknown format or level, or was written for another CPU or Ferrum version is ignored (the reason is
/// returned) and rewritten by the next tuning run; reading never throws.
/// </summary>
public static class CpuTuningFile
{
    /// <summary>The file's name inside the cache directory.</summary>
    public const string FileName = "cpu-tuning-v1.json";

    private const int Schema = 1;

    /// <summary>Writes <paramref name="result"/> to <paramref name="path"/> (through a temporary file, so a reader never sees half a file).</summary>
    public static void Write(string path, CpuTuningResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = $"{path}.{Environment.ProcessId}.tmp";
        using (var stream = File.Create(tmp))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("schema", Schema);
            w.WriteString("cpu", result.Identity.Cpu);
            w.WriteString("isa", result.Identity.Isa);
            w.WriteString("ferrum", result.Identity.Version);
            w.WriteString("measured_utc", result.MeasuredUtc.ToString("o", CultureInfo.InvariantCulture));
            w.WriteNumber("weight_bytes", result.WeightBytes);
            w.WriteStartArray("decisions");
            foreach (var d in result.Decisions)
            {
                w.WriteStartObject();
                w.WriteString("format", d.FormatName);
                w.WriteString("level", CpuKernelPins.Name(d.Level));
                w.WriteStartArray("candidates");
                foreach (var c in d.Candidates)
                {
                    WriteTiming(w, c);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Reads the decisions in <paramref name="path"/> when they were made for <paramref name="identity"/>; otherwise
    /// null, with <paramref name="ignored"/> saying why (missing, unreadable, corrupt, another CPU or version).
    /// </summary>
    public static CpuTuningResult? Read(string path, CpuIdentity identity, out string? ignored)
    {
        ignored = null;
        byte[] bytes;
        try
        {
            if (!File.Exists(path))
            {
                ignored = "no cache file";
                return null;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ignored = $"unreadable: {e.Message}";
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            if (root.GetProperty("schema").GetInt32() != Schema)
            {
                ignored = "another file schema";
                return null;
            }

            var id = new CpuIdentity(root.GetProperty("cpu").GetString()!, root.GetProperty("isa").GetString()!, root.GetProperty("ferrum").GetString()!);
            if (id != identity)
            {
                ignored = $"made for another CPU or version ({id})";
                return null;
            }

            var when = DateTime.Parse(root.GetProperty("measured_utc").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            long weightBytes = root.GetProperty("weight_bytes").GetInt64();
            var decisions = new List<CpuKernelDecision>();
            foreach (var d in root.GetProperty("decisions").EnumerateArray())
            {
                var name = d.GetProperty("format").GetString();
                var type = CpuKernels.Formats.FirstOrDefault(t => GgmlTypeInfo.Get(t).Name == name, (GgmlType)uint.MaxValue);
                if (type == (GgmlType)uint.MaxValue || decisions.Any(x => x.Format == type))
                {
                    ignored = $"unknown or repeated format '{name}'";
                    return null;
                }

                var level = CpuKernelPins.ParseLevel(d.GetProperty("level").GetString() ?? "", FileName);
                if (level > CpuSimd.Supported || CpuFormatTable.Get(type).At(level) is null)
                {
                    ignored = $"{name}: no {CpuKernelPins.Name(level)} kernel in this build on this CPU";
                    return null;
                }

                var candidates = new List<CpuKernelTiming>();
                foreach (var c in d.GetProperty("candidates").EnumerateArray())
                {
                    var t8 = c.GetProperty("us_8_tokens");
                    candidates.Add(new CpuKernelTiming(
                        CpuKernelPins.ParseLevel(c.GetProperty("level").GetString() ?? "", FileName),
                        c.GetProperty("us_1_token").GetDouble(),
                        t8.ValueKind == JsonValueKind.Null ? null : t8.GetDouble()));
                }

                decisions.Add(new CpuKernelDecision(type, level, candidates));
            }

            return new CpuTuningResult(id, when, weightBytes, decisions);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            ignored = $"corrupt: {e.Message}";
            return null;
        }
    }

    /// <summary>One candidate's timings as a JSON object (the cache file and <c>ferrum tune --json</c> share the form).</summary>
    public static void WriteTiming(System.Text.Json.Utf8JsonWriter w, CpuKernelTiming c)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(c);
        w.WriteStartObject();
        w.WriteString("level", CpuKernelPins.Name(c.Level));
        w.WriteNumber("us_1_token", Math.Round(c.Microseconds1, 2));
        if (c.Microseconds8 is { } t8)
        {
            w.WriteNumber("us_8_tokens", Math.Round(t8, 2));
        }
        else
        {
            w.WriteNull("us_8_tokens");
        }

        w.WriteEndObject();
    }
}
