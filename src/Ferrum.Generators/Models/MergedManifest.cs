using Ferrum.Generators.Diagnostics;
using Ferrum.Generators.Helpers;
using Ferrum.Generators.Manifest;

namespace Ferrum.Generators.Models;

/// <summary>
/// Every manifest file of the project combined: models (unique by type name), the kernels to emit, cross-file
/// diagnostics, and the first manifest that asks for CPU kernels (null if none does).
/// </summary>
internal sealed record MergedManifest(
    EquatableArray<ModelDecl> Models,
    EquatableArray<KernelItem> Kernels,
    EquatableArray<DiagnosticInfo> Diagnostics,
    string? CpuKernelsManifest);
