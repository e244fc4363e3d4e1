using System;
using System.Collections.Generic;
using System.Linq;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Generators.Manifest;

/// <summary>The closed sets of names kernels.yaml accepts.</summary>
internal static class ManifestVocabulary
{
    /// <summary>
    /// The weight formats: one per FormatRow (shared with the runtime, which has a marker type
    /// Ferrum.Quantization.Formats.* for each), in the rows' order.
    /// </summary>
    public static readonly GgmlType[] SupportedFormats = FormatRow.Types.ToArray();

    public static readonly string SupportedFormatList =
        string.Join(", ", SupportedFormats.Select(f => GgmlTypeInfo.Get(f).Name));

    /// <summary>
    /// general.architecture values whose MoE blocks Ferrum's runtime runs (Moe.MoeRouting.Architectures; llama covers
    /// Mixtral). A test keeps the two lists equal.
    /// </summary>
    public static readonly string[] Architectures =
    {
        "qwen3moe", "qwen2moe", "olmoe", "llama", "deepseek2", "gpt-oss",
    };

    public static readonly string ArchitectureList = string.Join(", ", Architectures);

    public static readonly string[] TopLevelKeys = { "targets", "formats", "models" };

    public static readonly string[] ModelKeys = { "name", "arch", "hidden", "expert_ffn", "experts", "top_k", "roles", "batches" };

    public static readonly string[] RequiredModelKeys = { "name", "arch", "hidden", "expert_ffn", "experts", "top_k", "roles" };

    public static readonly string[] Roles = { "gate", "up", "down" };

    /// <summary>Upper bounds that keep every generated constant (rows × row bytes × experts) within long and sane.</summary>
    public const int MaxDimension = 1 << 20;

    public const int MaxExperts = 1 << 16;

    public const int MaxBatch = 1 << 16;

    public static bool TryParseFormat(string text, out GgmlType format, out bool knownButUnsupported)
    {
        format = default;
        knownButUnsupported = false;
        if (!GgmlTypeInfo.TryParse(text, out var info))
        {
            return false;
        }

        if (Array.IndexOf(SupportedFormats, info.Type) < 0)
        {
            knownButUnsupported = true;
            return false;
        }

        format = info.Type;
        return true;
    }

    public static bool TryParseTarget(string text, out KernelTarget target)
    {
        switch (text.ToLowerInvariant())
        {
            case "cpu":
                target = KernelTarget.Cpu;
                return true;
            case "opencl":
                target = KernelTarget.OpenCL;
                return true;
            case "metal":
                target = KernelTarget.Metal;
                return true;
            default:
                target = default;
                return false;
        }
    }

    public static bool TryParseArch(string text, out string arch)
    {
        arch = text.ToLowerInvariant();
        return Array.IndexOf(Architectures, arch) >= 0;
    }
}
