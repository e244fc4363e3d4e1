using System.Reflection;
using Ferrum.Generators.Tests.Infrastructure;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Generators.Tests;

/// <summary>
/// The generated Load against real GGUF bytes (written with GgufWriter): separate and fused gate/up, a down
/// role whose format differs per layer, clear errors for undeclared formats, wrong shapes, missing tensors
/// and another architecture, the layer's lifetime, and a forward pass through the bound kernels.
/// </summary>
public class LoadLayerTests
{
    // 2 experts; gate/up rows: 256 of 256 elements, down rows: 256 of 256 elements.
    private const int Hidden = 256;
    private const int Ffn = 256;
    private const int Experts = 2;

    private const string Manifest = """
        targets: [cpu]
        models:
          - name: load-check
            arch: qwen3moe
            hidden: 256
            expert_ffn: 256
            experts: 2
            top_k: 1
            roles: { gate: [q4_K], up: [q4_K], down: [q4_K, q8_0] }
        """;

    private static readonly Lazy<Type> Model = new(() =>
    {
        var (result, output) = GeneratorHarness.RunAndCompile(new InMemoryAdditionalText(GeneratorHarness.ManifestPath, Manifest));
        Assert.Empty(result.Diagnostics);
        using var stream = new MemoryStream();
        var emit = output.WithAssemblyName("LoadCheck" + Guid.NewGuid().ToString("N")).Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        return Assembly.Load(stream.ToArray()).GetType("Ferrum.Generated.Load_Check", throwOnError: true)!;
    });

    [Fact]
    public void SeparateGateUpAndQ8_0Down()
    {
        using var file = GgufFile.Open(BuildFile(), "test.gguf");
        dynamic layer = Load(file, 0);
        Assert.Equal(0, (int)layer.Index);
        Assert.False((bool)layer.FusedGateUp);

        ExpertStack<Q4_K> gate = layer.Gate;
        Assert.Equal((Experts, Ffn, Hidden), (gate.Experts, gate.Rows, gate.RowLength));
        Assert.Equal(file.GetTensorBytes(file.GetTensor("blk.0.ffn_gate_exps.weight")).Slice((int)gate.ExpertStride, (int)gate.ExpertStride).ToArray(), gate.Expert(1).ToArray());

        Assert.Equal(GgmlType.Q8_0, (GgmlType)layer.DownFormat);
        Assert.Null((ExpertStack<Q4_K>?)layer.DownQ4_K);
        ExpertStack<Q8_0> down = layer.DownQ8_0;
        Assert.Equal(Hidden, down.Rows);
        Assert.Equal(file.GetTensorBytes(file.GetTensor("blk.0.ffn_down_exps.weight")).Slice((int)(down.ExpertStride + (3 * down.RowStride)), (int)down.RowBytes).ToArray(), down.Row(1, 3).ToArray());
        Assert.Equal("q8_0", (string)layer.MatchDown(new Func<ExpertStack<Q4_K>, string>(_ => "q4_K"), new Func<ExpertStack<Q8_0>, string>(_ => "q8_0")));
    }

    [Fact]
    public void FusedGateUpAndQ4_KDown()
    {
        using var file = GgufFile.Open(BuildFile(), "test.gguf");
        dynamic layer = Load(file, 1);
        Assert.True((bool)layer.FusedGateUp);
        ExpertStack<Q4_K> gate = layer.Gate;
        ExpertStack<Q4_K> up = layer.Up;
        var fused = file.GetTensorBytes(file.GetTensor("blk.1.ffn_gate_up_exps.weight"));
        var rowBytes = (int)gate.RowBytes;

        // Per expert the fused tensor holds Ffn gate rows, then Ffn up rows.
        Assert.Equal(2L * Ffn * rowBytes, gate.ExpertStride);
        Assert.Equal(fused.Slice((2 * Ffn * rowBytes) + (5 * rowBytes), rowBytes).ToArray(), gate.Row(1, 5).ToArray());
        Assert.Equal(fused.Slice((2 * Ffn * rowBytes) + ((Ffn + 5) * rowBytes), rowBytes).ToArray(), up.Row(1, 5).ToArray());
        Assert.Equal(GgmlType.Q4_K, (GgmlType)layer.DownFormat);
        Assert.NotNull((ExpertStack<Q4_K>?)layer.DownQ4_K);
    }

    [Fact]
    public void MismatchesNameTensorExpectedAndActual()
    {
        using var file = GgufFile.Open(BuildFile(), "test.gguf");
        var format = Assert.IsType<ModelMismatchException>(Catch(() => Load(file, 2)));
        Assert.Equal("model 'load-check', layer 2 of test.gguf: tensor 'blk.2.ffn_down_exps.weight' format (down): expected one of [q4_K, q8_0] as declared in kernels.yaml, found q5_K", format.Message);

        // A tensor that disagrees with the file's own metadata is the loader's error (GgufException), naming it.
        var inconsistent = Assert.IsType<GgufException>(Catch(() => Load(file, 3)));
        Assert.Contains("'blk.3.ffn_gate_exps.weight' has shape [256, 256, 1], expected [256, n, 2]", inconsistent.Message);

        var missing = Assert.IsType<GgufException>(Catch(() => Load(file, 4)));
        Assert.Equal("tensor 'blk.4.ffn_down_exps.weight' not found in test.gguf", missing.Message);

        // A consistent file with another shape than kernels.yaml declares is a ModelMismatchException.
        using var wide = GgufFile.Open(BuildFile(experts: 4), "wide.gguf");
        var shape = Assert.IsType<ModelMismatchException>(Catch(() => Load(wide, 0)));
        Assert.Equal("model 'load-check', layer 0 of wide.gguf: tensor 'blk.0.ffn_gate_inp.weight' shape: expected [256, 2], found [256, 4]", shape.Message);

        using var other = GgufFile.Open(BuildFile("llama"), "llama.gguf");
        var arch = Assert.IsType<ModelMismatchException>(Catch(() => Load(other, 0)));
        Assert.Equal("model 'load-check', layer 0 of llama.gguf: general.architecture: expected qwen3moe, found llama", arch.Message);

        Assert.IsType<ArgumentOutOfRangeException>(Catch(() => Load(file, -1)));
    }

    [Fact]
    public void The_layer_outlives_its_file_and_throws_once_disposed()
    {
        var file = GgufFile.Open(BuildFile(), "test.gguf");
        dynamic layer = Load(file, 0);
        ExpertStack<Q4_K> gate = layer.Gate;
        var before = gate.Expert(1).ToArray();
        file.Dispose();

        // The layer holds a lease on the mapping: its views stay valid after the file is disposed.
        Assert.Equal(before, gate.Expert(1).ToArray());
        ((IDisposable)layer).Dispose();
        ((IDisposable)layer).Dispose();
        Assert.Throws<ObjectDisposedException>(() => gate.Expert(0).Length);
        Assert.Throws<ObjectDisposedException>(() => { unsafe { _ = gate.ExpertPointer(0); } });
        Assert.IsType<ObjectDisposedException>(Catch(() => _ = layer.Gate));
        Assert.IsType<ObjectDisposedException>(Catch(() => { layer.Forward(new float[Hidden], new float[Hidden]); }));
    }

    [Fact]
    public void Forward_runs_the_bound_kernels_and_matches_the_runtime_path()
    {
        using var file = GgufFile.Open(BuildFile(realWeights: true), "real.gguf");
        using var layer = (IDisposable)Load(file, 1);
        dynamic typed = layer;
        var paths = (IReadOnlyList<string>)typed.KernelPaths;
        Assert.Equal("cpu", (string)typed.Backend);

        // q4_K rows of 256 have a generated kernel for this shape: where q4_K has a batched (×4) kernel, AVX2 and
        // AVX-512, it is the shape-specialized one.
        var gatePath = paths.Single(p => p.StartsWith("gate:", StringComparison.Ordinal));
        Assert.Contains(Ferrum.Backends.Cpu.CpuSimd.Level >= Ferrum.Backends.Cpu.SimdLevel.Avx2 ? "specialized k=256" : "generic", gatePath);

        var rng = new Random(5);
        var x = new float[3 * Hidden];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        var y = new float[x.Length];
        typed.Forward(x, y);

        // The runtime's untyped path over the same file (generic kernels) computes the same integer dots.
        using var description = MoeLayer.Load(file, 1);
        using var generic = new Ferrum.Backends.Cpu.CpuMoeExecutor(description, new Ferrum.Backends.Cpu.CpuMoeOptions { Threads = 1 });
        var expected = new float[x.Length];
        generic.Forward(x, expected);
        Assert.Contains(expected, v => v != 0f);
        for (var i = 0; i < y.Length; i++)
        {
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"element {i}: {y[i]} vs {expected[i]}");
        }

        Assert.IsType<ArgumentException>(Catch(() => { typed.Forward(new float[Hidden + 1], new float[Hidden + 1]); }));
    }

    /// <summary>
    /// Issue 16: four threads × 25 calls with distinct 7- and 1-token inputs on one generated layer. Each call returns
    /// exactly what the same layer gives for that input when called alone, or is refused with InvalidOperationException
    /// (the output-span bound is checked on the executor in runtime-tests/Reliability).
    /// </summary>
    [Fact]
    public void Concurrent_forward_on_one_generated_layer_is_right_or_refused()
    {
        using var file = GgufFile.Open(BuildFile(realWeights: true), "real.gguf");
        using var layer = (IDisposable)Load(file, 1);
        dynamic typed = layer;
        const int threads = 4, calls = 25;
        var inputs = new float[threads * calls][];
        var expected = new float[inputs.Length][];
        for (var i = 0; i < inputs.Length; i++)
        {
            var rng = new Random(100 + i);
            inputs[i] = new float[(i % 2 == 0 ? 7 : 1) * Hidden];
            for (var j = 0; j < inputs[i].Length; j++)
            {
                inputs[i][j] = (float)((rng.NextDouble() * 2) - 1);
            }

            expected[i] = new float[inputs[i].Length];
            typed.Forward(inputs[i], expected[i]);
        }

        int right = 0, refused = 0, wrong = 0;
        var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            dynamic l = layer;
            start.SignalAndWait();
            for (var c = 0; c < calls; c++)
            {
                var i = (t * calls) + c;
                var y = new float[inputs[i].Length];
                try
                {
                    l.Forward(inputs[i], y);
                    Interlocked.Increment(ref y.AsSpan().SequenceEqual(expected[i]) ? ref right : ref wrong);
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        Assert.Equal(0, wrong);
        Assert.Equal(threads * calls, right + refused);
        Assert.True(right >= calls, $"{right} ran, {refused} refused");
    }

    private static object Load(GgufFile file, int layer)
    {
        try
        {
            return Model.Value.GetMethod("Load", [typeof(GgufFile), typeof(int), typeof(Ferrum.Backends.IMoeBackend)])!.Invoke(null, [file, layer, null])!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    private static Exception Catch(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            return e;
        }

        throw new Xunit.Sdk.XunitException("no exception");
    }

    /// <summary>Layers 0..4 as described in the tests; tensor bytes are a counter pattern (only placement matters).</summary>
    /// <remarks>With <paramref name="realWeights"/>, tensors hold quantized Gaussian weights instead of the pattern.</remarks>
    private static byte[] BuildFile(string arch = "qwen3moe", int experts = Experts, bool realWeights = false)
    {
        var w = new GgufWriter()
            .AddMetadata("general.architecture", arch)
            .AddMetadata(arch + ".block_count", 5u)
            .AddMetadata(arch + ".embedding_length", (uint)Hidden)
            .AddMetadata(arch + ".expert_feed_forward_length", (uint)Ffn)
            .AddMetadata(arch + ".expert_count", (uint)experts)
            .AddMetadata(arch + ".expert_used_count", 1u);
        var seed = 0;
        var rng = new Random(17);
        void Tensor(string name, GgmlType type, params long[] shape)
        {
            var info = GgmlTypeInfo.Get(type);
            var rows = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            byte[] bytes;
            if (realWeights)
            {
                var values = new float[shape[0] * rows];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)((rng.NextDouble() - 0.5) * 0.2);
                }

                bytes = new byte[info.RowBytes(shape[0]) * rows];
                if (type == GgmlType.F32)
                {
                    System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(bytes);
                }
                else
                {
                    Quantizer.Quantize(type, values, bytes);
                }
            }
            else
            {
                bytes = new byte[info.RowBytes(shape[0]) * rows];
                for (var i = 0; i < bytes.Length; i++)
                {
                    bytes[i] = (byte)((i * 7) + seed);
                }
            }

            seed++;
            w.AddTensor(name, type, shape, bytes);
        }

        for (var layer = 0; layer < 5; layer++)
        {
            var p = $"blk.{layer}.";
            Tensor(p + "ffn_gate_inp.weight", GgmlType.F32, Hidden, experts);
            if (layer == 1)
            {
                Tensor(p + "ffn_gate_up_exps.weight", GgmlType.Q4_K, Hidden, 2 * Ffn, experts);
            }
            else
            {
                Tensor(p + "ffn_gate_exps.weight", GgmlType.Q4_K, Hidden, Ffn, layer == 3 ? 1 : experts);
                Tensor(p + "ffn_up_exps.weight", GgmlType.Q4_K, Hidden, Ffn, experts);
            }

            switch (layer)
            {
                case 0:
                    Tensor(p + "ffn_down_exps.weight", GgmlType.Q8_0, Ffn, Hidden, experts);
                    break;
                case 1:
                case 3:
                    Tensor(p + "ffn_down_exps.weight", GgmlType.Q4_K, Ffn, Hidden, experts);
                    break;
                case 2:
                    Tensor(p + "ffn_down_exps.weight", GgmlType.Q5_K, Ffn, Hidden, experts);
                    break;
            }
        }

        return w.ToArray();
    }
}
