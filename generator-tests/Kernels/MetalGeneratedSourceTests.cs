using Ferrum.Generators.Tests.Infrastructure;
using Ferrum.Generators.Tests.MetalCheck;
using Ferrum.Kernels;
using Ferrum.Quantization;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// The Metal sources the generator registers in the KernelSourceCatalog (what `ferrum kernels --emit` writes as .metal
/// files) pass the shader check, and their dense mat-vec entry point, run under the Metal emulation, computes the
/// q8_0 mat-vec that ggml's own dequantization gives.
/// </summary>
public sealed unsafe class MetalGeneratedSourceTests
{
    [Fact]
    public void Generated_metal_sources_pass_the_check_and_compute_the_q8_0_mat_vec()
    {
        var assembly = CompileTests.CompileAndLoad("""
            targets: [metal]
            formats: [q8_0, q4_K]
            models:
              - name: metal-check
                arch: qwen3moe
                hidden: 96
                expert_ffn: 64
                experts: 2
                top_k: 1
                roles: { gate: [q8_0], up: [q8_0], down: [q8_0] }
                batches: [1, 3]
            """);
        System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);

        var cases = new[] { (64, 96, 3), (96, 64, 1) };
        var sources = cases.Select(c => KernelSourceCatalog.Find(KernelTarget.Metal, new KernelKey(GgmlType.Q8_0, c.Item1, c.Item2, c.Item3))!).ToList();
        var generic = KernelSourceCatalog.Find(KernelTarget.Metal, new KernelKey(GgmlType.Q8_0, 5, 160, 2))!;
        var q4k = KernelSourceCatalog.Find(KernelTarget.Metal, KernelKey.Generic(GgmlType.Q4_K))!;
        Assert.All(sources, s => Assert.False(s.Key.IsGeneric));
        Assert.True(generic.Key.IsGeneric);
        Assert.NotNull(q4k);

        var all = sources.Append(generic).Append(q4k).ToList();
        var (ok, report) = MetalSourceCheck.Check(all.Select(s => (s.FileName.Replace('.', '_'), s.Text)));
        Assert.True(ok, report);

        var random = new Random(5);
        foreach (var ((rows, length, batch), source) in cases.Zip(sources))
        {
            Run(source, random, rows, length, batch);
        }

        Run(generic, random, 5, 160, 2);
    }

    private static void Run(KernelSource source, Random random, int rows, int length, int batch)
    {
        var (weights, expected, input) = Q8_0Reference.Case(random, rows, length, batch);
        using var emulator = MetalEmulator.Compile(source.Name.Replace('/', '_'), source.Text);
        var output = new float[rows * batch];
        var stride = (ulong)(length / 32 * 34);
        fixed (byte* w = weights)
        fixed (float* x = input, y = output)
        {
            var buffers = new List<nint> { (nint)w, (nint)(&stride), (nint)x, (nint)y };
            if (source.Key.IsGeneric)
            {
                buffers.Add((nint)(&rows));
                buffers.Add((nint)(&length));
                buffers.Add((nint)(&batch));
            }

            // One thread per output: (rows, batch) threads as 1x1 threadgroups.
            emulator.Dispatch(source.EntryPoint, buffers.ToArray(), (rows, batch, 1), (1, 1, 1));
        }

        for (var i = 0; i < output.Length; i++)
        {
            Assert.True(Math.Abs(output[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"{source.Name} {rows}x{length} b{batch}: output {i} is {output[i]}, expected {expected[i]}");
        }
    }
}
