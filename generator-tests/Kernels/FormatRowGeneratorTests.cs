extern alias Generators;
using Ferrum.Quantization.Formats;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using GenRow = Generators::Ferrum.Quantization.Formats.FormatRow;
using ManifestVocabulary = Generators::Ferrum.Generators.Manifest.ManifestVocabulary;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// The generator reads the same format rows as the runtime (linked source): kernels.yaml accepts exactly the rows,
/// and the GPU column (the decode descriptions both GPU printers use) covers every row and nothing else.
/// </summary>
public sealed class FormatRowGeneratorTests
{
    [Fact]
    public void Generator_rows_are_the_runtime_rows()
    {
        Assert.Equal(FormatRow.All.Select(r => (uint)r.Type), GenRow.All.Select(r => (uint)r.Type));
        Assert.Equal(FormatRow.All.Select(r => (r.Name, r.BlockElements, r.BlockBytes, (uint)r.ActivationType)),
            GenRow.All.Select(r => (r.Name, r.BlockElements, r.BlockBytes, (uint)r.ActivationType)));
    }

    [Fact]
    public void Kernels_yaml_accepts_exactly_the_rows()
    {
        Assert.Equal(FormatRow.Types.Select(t => (uint)t), ManifestVocabulary.SupportedFormats.Select(t => (uint)t));
        Assert.Equal(string.Join(", ", FormatRow.All.Select(r => r.Name)), ManifestVocabulary.SupportedFormatList);
        foreach (var row in FormatRow.All)
        {
            Assert.True(ManifestVocabulary.TryParseFormat(row.Name, out var parsed, out _), row.Name);
            Assert.Equal((uint)row.Type, (uint)parsed);
        }

        // A ggml type without a row is known but refused.
        Assert.False(ManifestVocabulary.TryParseFormat("q8_K", out _, out var knownButUnsupported));
        Assert.True(knownButUnsupported);
    }

    [Fact]
    public void Every_row_has_a_gpu_decode_description_and_every_description_a_row()
    {
        Assert.Empty(FormatKernels.RowsWithoutDescription);
        Assert.Equal(FormatRow.Types.Select(t => (uint)t).OrderBy(t => t), FormatKernels.All.Select(k => (uint)k.Type).OrderBy(t => t));
        foreach (var row in GenRow.All)
        {
            Assert.True(FormatKernels.IsSupported(row.Type), row.Name);
            Assert.Equal(row.Layout.SubBlockSize, FormatKernels.Get(row.Type).SubBlockElements);
        }
    }
}
