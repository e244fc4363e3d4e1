using Ferrum.Sample.Commands;

namespace Ferrum.Cli.Tests;

/// <summary>The Metal path of <c>ferrum moe</c> off macOS: the one clear error, before any file is touched, and exit code 1.</summary>
public sealed class MoeMetalTests
{
    [Fact]
    public void Off_macOS_the_metal_backend_fails_with_the_clear_error_first()
    {
        if (OperatingSystem.IsMacOS())
        {
            return; // on a Mac this path runs the GPU; covered by docs/metal.md's manual check
        }

        // The model and input do not exist: the platform check must come before reading them.
        var ex = Assert.Throws<PlatformNotSupportedException>(() => MoeMetal.Run("missing.gguf", 0, "missing.f32", "out.f32", TextWriter.Null));
        Assert.StartsWith("Metal is available only on macOS", ex.Message);
    }

    [Fact]
    public void Ferrum_moe_with_the_metal_backend_exits_non_zero_with_one_clear_line_off_macOS()
    {
        if (OperatingSystem.IsMacOS())
        {
            return; // on a Mac the command runs the GPU
        }

        var r = FerrumProcess.Run("moe", "missing.gguf", "--layer", "0", "--input", "missing.f32", "--output", "out.f32", "--backend", "metal");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("ferrum: error: Metal is available only on macOS", r.Stderr.Trim());
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }
}
