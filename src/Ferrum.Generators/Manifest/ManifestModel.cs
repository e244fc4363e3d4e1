using Ferrum.Generators.Diagnostics;
using Ferrum.Generators.Helpers;
using Ferrum.Quantization;

namespace Ferrum.Generators.Manifest;

// The parsed manifest as value-equal records. They hold no YAML positions: a comment-only edit that shifts lines
// must produce an equal model so every downstream step stays cached. Positions live only in DiagnosticInfo.

/// <summary>A backend the generator emits kernels for.</summary>
internal enum KernelTarget
{
    Cpu,
    OpenCL,
    Metal,
}

/// <summary>One manifest file: targets, shape-generic formats and models (only the error-free ones).</summary>
internal sealed record ManifestInfo(
    string Path,
    EquatableArray<KernelTarget> Targets,
    EquatableArray<GgmlType> Formats,
    EquatableArray<ModelDecl> Models);

/// <summary>
/// One declared model. Gate/up rows are <see cref="Hidden"/> long (there are <see cref="ExpertFfn"/> of them per
/// expert); down rows are <see cref="ExpertFfn"/> long (<see cref="Hidden"/> per expert).
/// </summary>
internal sealed record ModelDecl(
    string Name,
    string TypeName,
    string Arch,
    int Hidden,
    int ExpertFfn,
    int Experts,
    int TopK,
    EquatableArray<GgmlType> Gate,
    EquatableArray<GgmlType> Up,
    EquatableArray<GgmlType> Down,
    EquatableArray<int> Batches,
    string ManifestPath)
{
    /// <summary>True when the model's manifest targets the CPU, so its generated CPU kernels exist to bind (set when manifests merge).</summary>
    public bool CpuTarget { get; init; }
}

/// <summary>What the parse step returns: the model (possibly partial) and every diagnostic, kept apart by the pipeline.</summary>
internal sealed record ParseResult(ManifestInfo Manifest, EquatableArray<DiagnosticInfo> Diagnostics);
