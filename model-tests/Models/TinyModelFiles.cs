using Ferrum.SyntheticModels;

namespace Ferrum.Model.Tests.Models;

/// <summary>The tiny synthetic models, written once per test process into a temporary folder.</summary>
public static class TinyModelFiles
{
    private static readonly string Dir = Path.Combine(Path.GetTempPath(), $"ferrum-model-tests-{Environment.ProcessId}");
    private static readonly Dictionary<SyntheticModelSpec, string> Paths = new();

    /// <summary>The file of <paramref name="spec"/>, written on first use.</summary>
    public static string Get(SyntheticModelSpec spec)
    {
        lock (Paths)
        {
            if (!Paths.TryGetValue(spec, out var path))
            {
                Directory.CreateDirectory(Dir);
                path = Path.Combine(Dir, $"{spec.Architecture}-{Paths.Count}.gguf");
                SyntheticModelWriter.Write(spec, path);
                Paths[spec] = path;
            }

            return path;
        }
    }

    /// <summary>The tiny preset of <paramref name="architecture"/>.</summary>
    public static SyntheticModelSpec Spec(string architecture) =>
        SyntheticModelPresets.Tiny.Single(s => s.Architecture == architecture);
}
