namespace Ferrum.Generators.Constants;

/// <summary>Names of the pipeline steps, so tests can read each step's run reason.</summary>
public static class TrackingNames
{
    /// <summary>AdditionalTexts filtered to kernels.yaml and *.kernels.yaml.</summary>
    public const string ManifestFiles = nameof(ManifestFiles);

    /// <summary>YAML parsed into a manifest model plus diagnostics (re-runs on any text change).</summary>
    public const string Parse = nameof(Parse);

    /// <summary>The manifest model without diagnostics (equal for comment-only edits).</summary>
    public const string Manifest = nameof(Manifest);

    /// <summary>Diagnostics of one manifest file.</summary>
    public const string Diagnostics = nameof(Diagnostics);

    /// <summary>All manifests merged: models de-duplicated across files, kernels planned.</summary>
    public const string Merged = nameof(Merged);

    /// <summary>Diagnostics found while merging several manifest files.</summary>
    public const string MergeDiagnostics = nameof(MergeDiagnostics);

    /// <summary>One item per declared model.</summary>
    public const string Models = nameof(Models);

    /// <summary>One item per kernel (target, format, shape, batch).</summary>
    public const string Kernels = nameof(Kernels);

    /// <summary>Whether the project set AllowUnsafeBlocks to false (an MSBuild property, not the compilation).</summary>
    public const string UnsafeDisabled = nameof(UnsafeDisabled);

    /// <summary>Kernels paired with <see cref="UnsafeDisabled"/>.</summary>
    public const string KernelOutputs = nameof(KernelOutputs);

    /// <summary>Each model paired with the unsafe-code setting (its type binds the generated CPU kernels only when they exist).</summary>
    public const string ModelOutputs = nameof(ModelOutputs);
}
