using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Ferrum.Generators.Diagnostics;
using Ferrum.Generators.Emit;
using Ferrum.Generators.Helpers;
using Ferrum.Generators.Manifest;
using Ferrum.Quantization;

namespace Ferrum.Generators.Models;

/// <summary>Turns the manifests into the list of kernels to emit.</summary>
internal static class KernelPlanner
{
    /// <summary>
    /// Merges all manifest files. Order matters for caching: the generator's SelectMany compares items by position,
    /// so shape-generic kernels come first and each model's kernels follow in declaration order; adding a model at
    /// the end of a manifest therefore only appends items and leaves every earlier output cached.
    /// </summary>
    public static MergedManifest Merge(ImmutableArray<ManifestInfo> manifests)
    {
        var models = new List<ModelDecl>();
        var diagnostics = new List<DiagnosticInfo>();
        var byType = new Dictionary<string, ModelDecl>();
        foreach (var manifest in manifests)
        {
            foreach (var model in manifest.Models)
            {
                if (byType.TryGetValue(model.TypeName, out var first))
                {
                    // Within one file the parser already reported this with a position; across files only the file is known.
                    diagnostics.Add(DiagnosticInfo.AtFileStart(
                        DiagnosticDescriptors.DuplicateModel, manifest.Path, model.Name, model.TypeName, $"; it is also declared in {first.ManifestPath}"));
                    continue;
                }

                var bound = model with { CpuTarget = manifest.Targets.Contains(KernelTarget.Cpu) };
                byType.Add(model.TypeName, bound);
                models.Add(bound);
            }
        }

        var kernels = new List<KernelItem>();
        var seen = new HashSet<KernelItem>();
        string? cpuManifest = null;
        void Add(KernelItem item, string manifestPath)
        {
            if (KernelPrinters.Supports(item) && seen.Add(item))
            {
                kernels.Add(item);
                if (item.Target == KernelTarget.Cpu)
                {
                    cpuManifest ??= manifestPath;
                }
            }
        }

        foreach (var manifest in manifests)
        {
            foreach (var target in manifest.Targets)
            {
                foreach (var format in manifest.Formats)
                {
                    Add(new KernelItem(target, format, 0, 0, 0), manifest.Path);
                }
            }
        }

        foreach (var model in models)
        {
            var targets = manifests.First(m => m.Path == model.ManifestPath).Targets;
            foreach (var target in targets)
            {
                // gate and up rows: ExpertFfn rows of Hidden elements; down rows: Hidden rows of ExpertFfn elements.
                foreach (var (formats, rows, rowLength) in new[] { (model.Gate, model.ExpertFfn, model.Hidden), (model.Up, model.ExpertFfn, model.Hidden), (model.Down, model.Hidden, model.ExpertFfn) })
                {
                    foreach (var format in formats)
                    {
                        foreach (var batch in model.Batches)
                        {
                            Add(new KernelItem(target, format, rows, rowLength, batch), model.ManifestPath);
                        }
                    }
                }
            }
        }

        return new MergedManifest(models.ToEquatableArray(), kernels.ToEquatableArray(), diagnostics.ToEquatableArray(), cpuManifest);
    }
}
