using Ferrum.Generators.Diagnostics;
using Ferrum.Generators.Helpers;
using Ferrum.Generators.Manifest;

namespace Ferrum.Generators.Models;

/// <summary>Every manifest file of the project combined: models (unique by type name), the kernels to emit, and cross-file diagnostics.</summary>
internal sealed record MergedManifest(
    EquatableArray<ModelDecl> Models,
    EquatableArray<KernelItem> Kernels,
    EquatableArray<DiagnosticInfo> Diagnostics);
