extern alias Generators;
using Ferrum.Moe;
using ManifestVocabulary = Generators::Ferrum.Generators.Manifest.ManifestVocabulary;

namespace Ferrum.Generators.Tests;

/// <summary>kernels.yaml accepts exactly the architectures whose MoE blocks the runtime runs, and each has routing rules.</summary>
public sealed class ArchitectureListTests
{
    [Fact]
    public void The_manifest_accepts_exactly_the_runtime_architectures()
    {
        Assert.Equal(MoeRouting.Architectures, ManifestVocabulary.Architectures);
        foreach (var arch in ManifestVocabulary.Architectures)
        {
            Assert.True(ManifestVocabulary.TryParseArch(arch.ToUpperInvariant(), out var parsed), arch);
            Assert.Equal(arch, parsed);
            _ = MoeRouting.Defaults(arch); // throws for an architecture without rules
        }

        Assert.False(ManifestVocabulary.TryParseArch("dbrx", out _));
        Assert.Throws<NotSupportedException>(() => MoeRouting.Defaults("dbrx"));
    }
}
