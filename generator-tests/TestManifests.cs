namespace Ferrum.Generators.Tests;

/// <summary>Manifests the tests share.</summary>
public static class TestManifests
{
    /// <summary>The repository's kernels.yaml (copied next to the test assembly).</summary>
    public static string Repository => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "kernels.yaml"));

    /// <summary>
    /// Every supported format in some role, single- and multi-format roles, all three targets, two specialized
    /// batches, and a format name in upper case.
    /// </summary>
    public const string AllFormats = """
        targets: [cpu, opencl, metal]
        formats: [q8_0, q4_K]
        models:
          - name: float-moe
            arch: qwen3moe
            hidden: 512
            expert_ffn: 256
            experts: 8
            top_k: 2
            roles: { gate: [f32], up: [f16], down: [bf16, f32] }
          - name: legacy-moe
            arch: qwen2moe
            hidden: 512
            expert_ffn: 256
            experts: 8
            top_k: 2
            roles: { gate: [q4_0, q4_1], up: [q5_0], down: [q5_1, q8_0] }
            batches: [1, 4]
          - name: kquant-moe
            arch: olmoe
            hidden: 1024
            expert_ffn: 512
            experts: 16
            top_k: 4
            roles: { gate: [q2_K], up: [q3_K, q4_K], down: [q5_K, q6_K] }
          - name: nonlinear-moe
            arch: gpt-oss
            hidden: 1024
            expert_ffn: 512
            experts: 32
            top_k: 4
            roles:
              gate: [iq4_nl]
              up: [IQ4_XS]
              down: [mxfp4, Q8_0]
            batches: [2]
        """;

    /// <summary>A manifest of <paramref name="models"/> models × 3 formats (the build-cost measurement uses 4).</summary>
    public static string Sized(int models)
    {
        var s = new System.Text.StringBuilder("targets: [cpu, opencl, metal]\nformats: [q4_K, q6_K, q8_0]\nmodels:\n");
        for (var i = 0; i < models; i++)
        {
            var hidden = 1024 * (i + 1);
            s.Append($"  - name: model-{i}\n    arch: qwen3moe\n    hidden: {hidden}\n    expert_ffn: {hidden / 2}\n    experts: 64\n    top_k: 8\n");
            s.Append("    roles: { gate: [q4_K, q8_0], up: [q4_K, q8_0], down: [q6_K, q8_0] }\n    batches: [1, 8]\n");
        }

        return s.ToString();
    }

    /// <summary>One extra model, appended to a manifest's models list.</summary>
    public const string ExtraModel = """
          - name: extra-moe
            arch: qwen3moe
            hidden: 256
            expert_ffn: 128
            experts: 4
            top_k: 1
            roles: { gate: [q8_0], up: [q8_0], down: [q8_0] }
            batches: [1]

        """;
}
