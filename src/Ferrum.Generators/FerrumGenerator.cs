using System;
using System.Text;
using Ferrum.Generators.Constants;
using Ferrum.Generators.Diagnostics;
using Ferrum.Generators.Emit;
using Ferrum.Generators.Manifest;
using Ferrum.Generators.Models;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Ferrum.Generators;

/// <summary>
/// Reads kernels.yaml and *.kernels.yaml from AdditionalFiles and emits, per model, a typed API
/// (<c>Ferrum.Generated.&lt;Model&gt;</c> with <c>LoadLayer</c> and typed expert stacks) and, per kernel, the CPU
/// code or the OpenCL/Metal source with a module initializer that registers it.
/// </summary>
/// <remarks>
/// Pipeline: manifest files → parse (model + diagnostics) → split: diagnostics are reported on their own branch,
/// the position-free model goes on → all manifests merged → one item per model and one per kernel → outputs.
/// Every step has a tracking name (<see cref="TrackingNames"/>) so tests can prove what is cached.
/// </remarks>
[Generator(LanguageNames.CSharp)]
public sealed class FerrumGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var files = context.AdditionalTextsProvider
            .Where(static text => ManifestParser.IsManifestPath(text.Path))
            .WithTrackingName(TrackingNames.ManifestFiles);

        var parsed = files
            .Select(static (text, ct) => ManifestParser.Parse(text.Path, text.GetText(ct)?.ToString() ?? string.Empty, ct))
            .WithTrackingName(TrackingNames.Parse);

        // Diagnostics carry positions, the model does not: a comment edit that moves lines changes only this branch.
        var diagnostics = parsed
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);

        var manifests = parsed
            .Select(static (result, _) => result.Manifest)
            .WithTrackingName(TrackingNames.Manifest);

        var merged = manifests
            .Collect()
            .Select(static (all, _) => KernelPlanner.Merge(all))
            .WithTrackingName(TrackingNames.Merged);

        var mergeDiagnostics = merged
            .Select(static (m, _) => m.Diagnostics)
            .WithTrackingName(TrackingNames.MergeDiagnostics);

        var models = merged
            .SelectMany(static (m, _) => m.Models)
            .WithTrackingName(TrackingNames.Models);

        var kernels = merged
            .SelectMany(static (m, _) => m.Kernels)
            .WithTrackingName(TrackingNames.Kernels);

        // Nothing reads the compilation: C# edits never re-run a step. AllowUnsafeBlocks comes from MSBuild
        // (CompilerVisibleProperty in build/Ferrum.props) and only changes with the project file.
        var unsafeDisabled = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => options.GlobalOptions.TryGetValue("build_property.AllowUnsafeBlocks", out var value)
                && string.Equals(value?.Trim(), "false", StringComparison.OrdinalIgnoreCase))
            .WithTrackingName(TrackingNames.UnsafeDisabled);

        var kernelOutputs = kernels
            .Combine(unsafeDisabled)
            .WithTrackingName(TrackingNames.KernelOutputs);

        var unsafeCheck = merged
            .Select(static (m, _) => m.CpuKernelsManifest)
            .Combine(unsafeDisabled);

        context.RegisterSourceOutput(diagnostics, static (spc, list) => spc.Report(list));
        context.RegisterSourceOutput(mergeDiagnostics, static (spc, list) => spc.Report(list));

        // Model types bind the generated CPU kernels, which exist only when unsafe code is allowed.
        var modelOutputs = models
            .Combine(unsafeDisabled)
            .WithTrackingName(TrackingNames.ModelOutputs);

        context.RegisterSourceOutput(modelOutputs, static (spc, pair) =>
        {
            var (model, noUnsafe) = pair;
            try
            {
                spc.AddSource(ModelTypePrinter.HintName(model), SourceText.From(ModelTypePrinter.Print(model, cpuKernels: !noUnsafe), Encoding.UTF8));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                spc.ReportInternalError(e, model.ManifestPath);
            }
        });

        // CPU kernels are unsafe code: without AllowUnsafeBlocks, one FER0013 replaces a flood of CS0227 errors.
        context.RegisterSourceOutput(unsafeCheck, static (spc, pair) =>
        {
            if (pair.Right && pair.Left is { } path)
            {
                spc.ReportDiagnostic(DiagnosticInfo.AtFileStart(DiagnosticDescriptors.UnsafeCodeDisabled, path).ToDiagnostic());
            }
        });

        context.RegisterSourceOutput(kernelOutputs, static (spc, pair) =>
        {
            var (kernel, noUnsafe) = pair;
            if (noUnsafe && kernel.Target == KernelTarget.Cpu)
            {
                return;
            }

            try
            {
                spc.AddSource(kernel.HintName, SourceText.From(KernelFilePrinter.Print(kernel), Encoding.UTF8));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                spc.ReportInternalError(e, string.Empty);
            }
        });
    }
}
