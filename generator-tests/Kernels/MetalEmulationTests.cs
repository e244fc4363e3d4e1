extern alias Generators;
using System.Runtime.InteropServices;
using Ferrum.Backends;
using Ferrum.Backends.Metal;
using Ferrum.Backends.OpenCL;
using Ferrum.Generators.Tests.MetalCheck;
using Ferrum.GgmlReference;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using MatrixShape = Generators::Ferrum.Generators.Emit.Kernels.MatrixShape;
using OpenCLPrinter = Generators::Ferrum.Generators.Emit.Kernels.OpenCLMoePrinter;
using Printer = Generators::Ferrum.Generators.Emit.Metal.MetalMoePrinter;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// The generated MSL kernels, run on the CPU under the Metal execution-model emulation (MetalCheck/emu), with the
/// runtime's own dispatch plan (MetalMoePlan: kernels, grids, buffer bindings, #defines, the argument block from the
/// <see cref="MoeLayer"/>), give the MoE result that a
/// double-precision reference computes from ggml's quantization and dequantization of the same weights. This is not a
/// run on Apple hardware (docs/metal.md); it checks the kernels' arithmetic, indexing, reductions and tiling.
/// </summary>
public sealed unsafe class MetalEmulationTests(MetalEmulationTests.Programs programs) : IClassFixture<MetalEmulationTests.Programs>
{
    private const int H = 256;
    private const int F = 256;
    private const int E = 6;
    private const int K = 2;
    private const int SF = 128;

    [Theory]
    // Decode (mat-vec) and prefill (tiles) paths for each kind of format: K-quant with an offset and 32-element
    // sub-blocks (q4_K), without an offset and 16-element sub-blocks (q6_K), a 32-element block format (q8_0) and an
    // unquantized one (f16). The decode of each format is checked bit-exactly elsewhere (FormatKernelDequantTests).
    // The q4_K/q6_K cases also run the programs specialized for the 256×256 matrices (N_ROWS/N_K baked in).
    [InlineData(GgmlType.Q4_K, GgmlType.Q6_K, 3, false)]
    [InlineData(GgmlType.Q4_K, GgmlType.Q6_K, 3, true)]
    [InlineData(GgmlType.Q4_K, GgmlType.Q6_K, 33, true)]
    [InlineData(GgmlType.Q8_0, GgmlType.F16, 2, false)]
    [InlineData(GgmlType.F16, GgmlType.Q8_0, 34, false)]
    public void Emulated_kernels_match_the_reference(GgmlType gateUpType, GgmlType downType, int tokens, bool specialized)
    {
        var x = GgmlReferenceData.RandomFloats(tokens * H, 1);
        var router = GgmlReferenceData.RandomFloats(E * H, 2);
        var gateF = GgmlReferenceData.RandomFloats(E * F * H, 3);
        var upF = GgmlReferenceData.RandomFloats(E * F * H, 4);
        var downF = GgmlReferenceData.RandomFloats(E * H * F, 5);
        var gateQ = GgmlReferenceData.Quantize((int)gateUpType, gateF, H);
        var upQ = GgmlReferenceData.Quantize((int)gateUpType, upF, H);
        var downQ = GgmlReferenceData.Quantize((int)downType, downF, F);
        var gateR = GgmlReferenceData.ToFloat((int)gateUpType, gateQ, gateF.Length);
        var upR = GgmlReferenceData.ToFloat((int)gateUpType, upQ, upF.Length);
        var downR = GgmlReferenceData.ToFloat((int)downType, downQ, downF.Length);

        var reference = Reference(x, router, gateR, upR, downR, tokens, Qwen3Routing);

        using var layer = Layer(Qwen3Routing, router, gateUpType, gateQ, upQ, downType, downQ);
        RunAndCompare(layer, x, tokens, reference, specialized);
    }

    [Fact]
    public void A_gguf_block_with_fused_gate_up_runs_through_the_loader_and_the_kernels()
    {
        const int tokens = 3;
        var x = GgmlReferenceData.RandomFloats(tokens * H, 11);
        var router = GgmlReferenceData.RandomFloats(E * H, 12);
        var gateF = GgmlReferenceData.RandomFloats(E * F * H, 13);
        var upF = GgmlReferenceData.RandomFloats(E * F * H, 14);
        var downF = GgmlReferenceData.RandomFloats(E * H * F, 15);

        // ffn_gate_up_exps [H, 2F, E]: each expert's gate rows, then its up rows (ggml quantizes row by row).
        var fusedF = new float[E * 2 * F * H];
        for (var e = 0; e < E; e++)
        {
            Array.Copy(gateF, e * F * H, fusedF, e * 2 * F * H, F * H);
            Array.Copy(upF, e * F * H, fusedF, ((e * 2) + 1) * F * H, F * H);
        }

        var fusedQ = GgmlReferenceData.Quantize((int)GgmlType.Q8_0, fusedF, H);
        var downQ = GgmlReferenceData.Quantize((int)GgmlType.Q4_K, downF, F);
        var fusedR = GgmlReferenceData.ToFloat((int)GgmlType.Q8_0, fusedQ, fusedF.Length);
        var gateR = new float[E * F * H];
        var upR = new float[E * F * H];
        for (var e = 0; e < E; e++)
        {
            Array.Copy(fusedR, e * 2 * F * H, gateR, e * F * H, F * H);
            Array.Copy(fusedR, ((e * 2) + 1) * F * H, upR, e * F * H, F * H);
        }

        var downR = GgmlReferenceData.ToFloat((int)GgmlType.Q4_K, downQ, downF.Length);
        var reference = Reference(x, router, gateR, upR, downR, tokens, Qwen3Routing);

        var w = new GgufWriter();
        w.AddMetadata("general.architecture", "qwen3moe");
        w.AddMetadata("qwen3moe.expert_count", (uint)E);
        w.AddMetadata("qwen3moe.expert_used_count", (uint)K);
        w.AddMetadata("qwen3moe.embedding_length", (uint)H);
        w.AddMetadata("qwen3moe.block_count", 1u);
        w.AddMetadata("qwen3moe.expert_feed_forward_length", (uint)F);
        w.AddTensor("blk.0.ffn_gate_inp.weight", GgmlType.F32, [H, E], MemoryMarshal.AsBytes(router.AsSpan()));
        w.AddTensor("blk.0.ffn_gate_up_exps.weight", GgmlType.Q8_0, [H, 2 * F, E], fusedQ);
        w.AddTensor("blk.0.ffn_down_exps.weight", GgmlType.Q4_K, [F, H, E], downQ);
        var path = Path.Combine(Path.GetTempPath(), $"ferrum-metal-emu-{Guid.NewGuid():N}.gguf");
        w.WriteTo(path);
        try
        {
            using var file = GgufFile.Open(path);
            using var layer = MoeLayer.Load(file, 0);
            Assert.True(layer.FusedGateUp);
            Assert.True(MetalMoeExecutor.IsPageMapped(layer));
            Assert.Equal(Qwen3Routing, layer.Routing);
            RunAndCompare(layer, x, tokens, reference, specialized: false);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Routing variants on the device: sigmoid + selection bias + renormalization + scale (DeepSeek-V3),
    /// softmax over the selected logits with a router bias (gpt-oss), softmax without renormalization (OLMoE).</summary>
    [Theory]
    [InlineData(2, true, 2.5f, false, true)]
    [InlineData(3, false, 0f, true, false)]
    [InlineData(1, false, 1f, false, false)]
    public void The_routing_kernel_matches_llama_cpp_routing(int gating, bool norm, float scale, bool routerBias, bool selectionBias)
    {
        const int tokens = 5;
        var x = GgmlReferenceData.RandomFloats(tokens * H, 21);
        var router = GgmlReferenceData.RandomFloats(E * H, 22);
        var rb = routerBias ? GgmlReferenceData.RandomFloats(E, 23) : null;
        var sb = selectionBias ? GgmlReferenceData.RandomFloats(E, 24) : null;
        var routing = new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = (MoeGating)gating, NormalizeWeights = norm, WeightScale = scale };
        var (ids, weights) = Route(x, router, tokens, routing, rb, sb);
        var dummy = new byte[GgmlTypeInfo.Get(GgmlType.Q8_0).RowBytes(H) * F * E];
        var dummyDown = new byte[GgmlTypeInfo.Get(GgmlType.Q8_0).RowBytes(F) * H * E];
        using var layer = Layer(routing, router, GgmlType.Q8_0, dummy, dummy, GgmlType.Q8_0, dummyDown, rb, sb);
        RunAndCompare(layer, x, tokens, (ids, weights, []), specialized: false, routeOnly: true);
    }

    [Fact]
    public void The_gpt_oss_activation_and_routing_match_the_reference()
    {
        const int tokens = 2;
        var x = GgmlReferenceData.RandomFloats(tokens * H, 31);
        var router = GgmlReferenceData.RandomFloats(E * H, 32);
        var rb = GgmlReferenceData.RandomFloats(E, 33);
        var gateF = GgmlReferenceData.RandomFloats(E * F * H, 34);
        var upF = GgmlReferenceData.RandomFloats(E * F * H, 35);
        var downF = GgmlReferenceData.RandomFloats(E * H * F, 36);
        var gateQ = GgmlReferenceData.Quantize((int)GgmlType.MXFP4, gateF, H);
        var upQ = GgmlReferenceData.Quantize((int)GgmlType.MXFP4, upF, H);
        var downQ = GgmlReferenceData.Quantize((int)GgmlType.MXFP4, downF, F);
        var routing = new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.SoftmaxOverSelected, Activation = MoeActivation.SwigluOai };
        var reference = Reference(
            x,
            router,
            GgmlReferenceData.ToFloat((int)GgmlType.MXFP4, gateQ, gateF.Length),
            GgmlReferenceData.ToFloat((int)GgmlType.MXFP4, upQ, upF.Length),
            GgmlReferenceData.ToFloat((int)GgmlType.MXFP4, downQ, downF.Length),
            tokens,
            routing,
            routerBias: rb);

        using var layer = Layer(routing, router, GgmlType.MXFP4, gateQ, upQ, GgmlType.MXFP4, downQ, routerBias: rb);
        RunAndCompare(layer, x, tokens, reference, specialized: false);
    }

    /// <summary>gpt-oss with its gate/up/down expert biases and router bias, decode (mat-vec) and prefill (tiles).</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(33)]
    public void Gpt_oss_expert_biases_match_the_reference(int tokens)
    {
        var x = GgmlReferenceData.RandomFloats(tokens * H, 41);
        var router = GgmlReferenceData.RandomFloats(E * H, 42);
        var rb = GgmlReferenceData.RandomFloats(E, 43);
        var biases = new ExpertBiases(GgmlReferenceData.RandomFloats(E * F, 44), GgmlReferenceData.RandomFloats(E * F, 45), GgmlReferenceData.RandomFloats(E * H, 46));
        var gateF = GgmlReferenceData.RandomFloats(E * F * H, 47);
        var upF = GgmlReferenceData.RandomFloats(E * F * H, 48);
        var downF = GgmlReferenceData.RandomFloats(E * H * F, 49);
        var gateQ = GgmlReferenceData.Quantize((int)GgmlType.MXFP4, gateF, H);
        var upQ = GgmlReferenceData.Quantize((int)GgmlType.MXFP4, upF, H);
        var downQ = GgmlReferenceData.Quantize((int)GgmlType.Q8_0, downF, F);
        var routing = new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.SoftmaxOverSelected, Activation = MoeActivation.SwigluOai };
        var reference = Reference(
            x,
            router,
            GgmlReferenceData.ToFloat((int)GgmlType.MXFP4, gateQ, gateF.Length),
            GgmlReferenceData.ToFloat((int)GgmlType.MXFP4, upQ, upF.Length),
            GgmlReferenceData.ToFloat((int)GgmlType.Q8_0, downQ, downF.Length),
            tokens,
            routing,
            routerBias: rb,
            biases: biases);

        using var layer = Layer(routing, router, GgmlType.MXFP4, gateQ, upQ, GgmlType.Q8_0, downQ, routerBias: rb, biases: biases);
        Assert.True(MetalBackend.CanRun(layer, (_, _, _) => "program", out var why), why);
        var metal = RunAndCompare(layer, x, tokens, reference, specialized: false);
        AssertDialectsAgree(layer, x, metal);
    }

    /// <summary>DeepSeek-V3 routing on the device: sigmoid, exp_probs_b, the best 2 of 3 expert groups, norm and scale.</summary>
    [Theory]
    [InlineData(5)]
    [InlineData(34)]
    public void Group_limited_routing_matches_the_reference(int tokens)
    {
        var x = GgmlReferenceData.RandomFloats(tokens * H, 51);
        var router = GgmlReferenceData.RandomFloats(E * H, 52);
        var sb = GgmlReferenceData.RandomFloats(E, 53);
        var gateF = GgmlReferenceData.RandomFloats(E * F * H, 54);
        var upF = GgmlReferenceData.RandomFloats(E * F * H, 55);
        var downF = GgmlReferenceData.RandomFloats(E * H * F, 56);
        var gateQ = GgmlReferenceData.Quantize((int)GgmlType.Q8_0, gateF, H);
        var upQ = GgmlReferenceData.Quantize((int)GgmlType.Q8_0, upF, H);
        var downQ = GgmlReferenceData.Quantize((int)GgmlType.Q8_0, downF, F);
        var routing = new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.Sigmoid, NormalizeWeights = true, WeightScale = 2.5f, ExpertGroupCount = 3, ExpertGroupsUsed = 2 };
        var reference = Reference(
            x,
            router,
            GgmlReferenceData.ToFloat((int)GgmlType.Q8_0, gateQ, gateF.Length),
            GgmlReferenceData.ToFloat((int)GgmlType.Q8_0, upQ, upF.Length),
            GgmlReferenceData.ToFloat((int)GgmlType.Q8_0, downQ, downF.Length),
            tokens,
            routing,
            selectionBias: sb);

        // The groups must change some token's choice, or the test could not tell.
        var ungrouped = Route(x, router, tokens, routing with { ExpertGroupCount = 0, ExpertGroupsUsed = 0 }, null, sb);
        Assert.NotEqual(ungrouped.Ids, reference.Ids);

        using var layer = Layer(routing, router, GgmlType.Q8_0, gateQ, upQ, GgmlType.Q8_0, downQ, selectionBias: sb);
        Assert.True(MetalBackend.CanRun(layer, (_, _, _) => "program", out var why), why);
        RunAndCompare(layer, x, tokens, reference, specialized: false);
    }

    /// <summary>
    /// Shared experts: qwen2moe's (sigmoid-gated by ffn_gate_inp_shexp, softmax routing without renormalization, q4_K
    /// routed and q8_0 shared) and deepseek2's (ungated, with the DeepSeek-V3 routing), decode and prefill.
    /// </summary>
    [Theory]
    [InlineData(true, 3)]
    [InlineData(true, 33)]
    [InlineData(false, 2)]
    [InlineData(false, 34)]
    public void Shared_experts_match_the_reference(bool gated, int tokens)
    {
        var x = GgmlReferenceData.RandomFloats(tokens * H, 61);
        var router = GgmlReferenceData.RandomFloats(E * H, 62);
        var sb = gated ? null : GgmlReferenceData.RandomFloats(E, 63);
        var type = gated ? GgmlType.Q4_K : GgmlType.Q8_0;
        var gateF = GgmlReferenceData.RandomFloats(E * F * H, 64);
        var upF = GgmlReferenceData.RandomFloats(E * F * H, 65);
        var downF = GgmlReferenceData.RandomFloats(E * H * F, 66);
        var gateQ = GgmlReferenceData.Quantize((int)type, gateF, H);
        var upQ = GgmlReferenceData.Quantize((int)type, upF, H);
        var downQ = GgmlReferenceData.Quantize((int)type, downF, F);
        var shared = SharedWeights.Create(GgmlType.Q8_0, 67, gated);
        var routing = gated
            ? new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.Softmax }
            : new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.Sigmoid, NormalizeWeights = true, WeightScale = 2.5f, ExpertGroupCount = 3, ExpertGroupsUsed = 2 };
        var reference = Reference(
            x,
            router,
            GgmlReferenceData.ToFloat((int)type, gateQ, gateF.Length),
            GgmlReferenceData.ToFloat((int)type, upQ, upF.Length),
            GgmlReferenceData.ToFloat((int)type, downQ, downF.Length),
            tokens,
            routing,
            selectionBias: sb,
            shared: shared);

        using var layer = Layer(routing, router, type, gateQ, upQ, type, downQ, selectionBias: sb, shared: shared);
        Assert.True(MetalBackend.CanRun(layer, (_, _, _) => "program", out var why), why);
        var metal = RunAndCompare(layer, x, tokens, reference, specialized: false);
        AssertDialectsAgree(layer, x, metal);
    }

    /// <summary>
    /// The NaN rule (docs/reliability.md) on the emulated MSL kernels: at decode a token holding a NaN, at prefill
    /// (33 tokens, the tiles) token 1 holding a NaN and token 2 a +∞, get ids 0 .. K-1 and NaN weights, so all-NaN
    /// output rows; the other tokens match the double reference computed on the batch without the bad values.
    /// qwen3moe (softmax) q4_K and f16, deepseek2 (sigmoid, selection bias, 2 of 3 groups, shared expert) q8_0,
    /// gpt-oss (router and expert biases, swiglu_oai) mxfp4. The fast-math cases compile the kernels with -ffast-math
    /// (the compiler may assume no NaN or ∞, as Metal's default fastMathEnabled allows): the routing kernel's checks
    /// read the floats' bits, so they survive it.
    /// </summary>
    [Theory]
    [InlineData("qwen3moe", GgmlType.Q4_K, false)]
    [InlineData("qwen3moe", GgmlType.F16, false)]
    [InlineData("deepseek2", GgmlType.Q8_0, false)]
    [InlineData("gpt-oss", GgmlType.MXFP4, false)]
    [InlineData("qwen3moe", GgmlType.Q4_K, true)]
    [InlineData("deepseek2", GgmlType.Q8_0, true)]
    public void Non_finite_tokens_give_NaN_rows_and_leave_the_others_alone(string arch, GgmlType type, bool fastMath)
    {
        var router = GgmlReferenceData.RandomFloats(E * H, 71);
        var gateF = GgmlReferenceData.RandomFloats(E * F * H, 72);
        var upF = GgmlReferenceData.RandomFloats(E * F * H, 73);
        var downF = GgmlReferenceData.RandomFloats(E * H * F, 74);
        var gateQ = GgmlReferenceData.Quantize((int)type, gateF, H);
        var upQ = GgmlReferenceData.Quantize((int)type, upF, H);
        var downQ = GgmlReferenceData.Quantize((int)type, downF, F);
        var rb = arch == "gpt-oss" ? GgmlReferenceData.RandomFloats(E, 75) : null;
        var sb = arch == "deepseek2" ? GgmlReferenceData.RandomFloats(E, 76) : null;
        var biases = arch == "gpt-oss" ? new ExpertBiases(GgmlReferenceData.RandomFloats(E * F, 77), GgmlReferenceData.RandomFloats(E * F, 78), GgmlReferenceData.RandomFloats(E * H, 79)) : null;
        var shared = arch == "deepseek2" ? SharedWeights.Create(GgmlType.Q8_0, 80, gated: false) : null;
        var routing = arch switch
        {
            "deepseek2" => new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.Sigmoid, NormalizeWeights = true, WeightScale = 2.5f, ExpertGroupCount = 3, ExpertGroupsUsed = 2 },
            "gpt-oss" => new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.SoftmaxOverSelected, Activation = MoeActivation.SwigluOai },
            _ => Qwen3Routing,
        };
        using var layer = Layer(routing, router, type, gateQ, upQ, type, downQ, routerBias: rb, selectionBias: sb, biases: biases, shared: shared);
        foreach (var tokens in new[] { 1, 33 })
        {
            var clean = GgmlReferenceData.RandomFloats(tokens * H, 81 + tokens);
            var x = (float[])clean.Clone();
            var bad = tokens == 1 ? new[] { 0 } : [1, 2];
            x[(bad[0] * H) + 3] = float.NaN;
            if (bad.Length > 1)
            {
                x[(bad[1] * H) + 200] = float.PositiveInfinity;
            }

            var (ids, weights, y) = Run(layer, x, tokens, specialized: false, fastMath: fastMath);
            var reference = Reference(
                clean,
                router,
                GgmlReferenceData.ToFloat((int)type, gateQ, gateF.Length),
                GgmlReferenceData.ToFloat((int)type, upQ, upF.Length),
                GgmlReferenceData.ToFloat((int)type, downQ, downF.Length),
                tokens,
                routing,
                routerBias: rb,
                selectionBias: sb,
                biases: biases,
                shared: shared);
            var scale = reference.Out.Max(Math.Abs);
            for (var t = 0; t < tokens; t++)
            {
                var poisoned = bad.Contains(t);
                for (var j = 0; j < K; j++)
                {
                    var i = (t * K) + j;
                    Assert.True(
                        poisoned ? ids[i] == j && float.IsNaN(weights[i]) : ids[i] == reference.Ids[i] && float.IsFinite(weights[i]),
                        $"{arch} {type} T={tokens}: token {t} slot {j} routed to {ids[i]} with weight {weights[i]}");
                }

                for (var c = 0; c < H; c++)
                {
                    var v = y[(t * H) + c];
                    Assert.True(
                        poisoned ? float.IsNaN(v) : Math.Abs(v - reference.Out[(t * H) + c]) <= (1e-4 * scale) + 1e-6,
                        $"{arch} {type} T={tokens}: out[{t}][{c}] = {v}, reference {(poisoned ? double.NaN : reference.Out[(t * H) + c])}");
                }
            }
        }
    }

    private static readonly MoeRouting Qwen3Routing = new() { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.Softmax, NormalizeWeights = true };

    /// <summary>A layer built in code over copies of the tensors (the views own them): router [H, E] F32, stacks [H, F, E] and [F, H, E].</summary>
    private static MoeLayer Layer(MoeRouting routing, float[] router, GgmlType gateUpType, byte[] gate, byte[] up, GgmlType downType, byte[] down, float[]? routerBias = null, float[]? selectionBias = null, ExpertBiases? biases = null, SharedWeights? shared = null)
    {
        ExpertStack Stack(GgmlType type, byte[] bytes, string name, int rowLength, int rows, int experts)
        {
            var row = GgmlTypeInfo.Get(type).RowBytes(rowLength);
            return ExpertStack.Create(type, WeightBytes.FromArray(bytes), name, 0, experts, rows, rowLength, row, row * rows);
        }

        byte[] Bytes(float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();
        return new MoeLayer
        {
            Routing = routing,
            Router = Stack(GgmlType.F32, Bytes(router), "blk.0.ffn_gate_inp.weight", H, E, 1),
            Gate = Stack(gateUpType, gate, "blk.0.ffn_gate_exps.weight", H, F, E),
            Up = Stack(gateUpType, up, "blk.0.ffn_up_exps.weight", H, F, E),
            Down = Stack(downType, down, "blk.0.ffn_down_exps.weight", F, H, E),
            RouterBias = routerBias is null ? null : Stack(GgmlType.F32, Bytes(routerBias), "blk.0.ffn_gate_inp.bias", E, 1, 1),
            SelectionBias = selectionBias is null ? null : Stack(GgmlType.F32, Bytes(selectionBias), "blk.0.exp_probs_b.bias", E, 1, 1),
            GateBias = biases is null ? null : Stack(GgmlType.F32, Bytes(biases.Gate), "blk.0.ffn_gate_exps.bias", F, 1, E),
            UpBias = biases is null ? null : Stack(GgmlType.F32, Bytes(biases.Up), "blk.0.ffn_up_exps.bias", F, 1, E),
            DownBias = biases is null ? null : Stack(GgmlType.F32, Bytes(biases.Down), "blk.0.ffn_down_exps.bias", H, 1, E),
            SharedGate = shared is null ? null : Stack(shared.Type, shared.GateQ, "blk.0.ffn_gate_shexp.weight", H, SF, 1),
            SharedUp = shared is null ? null : Stack(shared.Type, shared.UpQ, "blk.0.ffn_up_shexp.weight", H, SF, 1),
            SharedDown = shared is null ? null : Stack(shared.Type, shared.DownQ, "blk.0.ffn_down_shexp.weight", SF, H, 1),
            SharedGateInput = shared?.Input is null ? null : Stack(GgmlType.F32, Bytes(shared.Input), "blk.0.ffn_gate_inp_shexp.weight", H, 1, 1),
        };
    }

    /// <summary>A shared expert: quantized gate/up [SF][H] and down [H][SF], their ggml dequantization, and the optional f32 gate input [H].</summary>
    private sealed record SharedWeights(GgmlType Type, byte[] GateQ, byte[] UpQ, byte[] DownQ, float[] Gate, float[] Up, float[] Down, float[]? Input)
    {
        public static SharedWeights Create(GgmlType type, int seed, bool gated)
        {
            var g = GgmlReferenceData.RandomFloats(SF * H, seed);
            var u = GgmlReferenceData.RandomFloats(SF * H, seed + 1);
            var d = GgmlReferenceData.RandomFloats(H * SF, seed + 2);
            var gq = GgmlReferenceData.Quantize((int)type, g, H);
            var uq = GgmlReferenceData.Quantize((int)type, u, H);
            var dq = GgmlReferenceData.Quantize((int)type, d, SF);
            return new(type, gq, uq, dq, GgmlReferenceData.ToFloat((int)type, gq, g.Length), GgmlReferenceData.ToFloat((int)type, uq, u.Length), GgmlReferenceData.ToFloat((int)type, dq, d.Length), gated ? GgmlReferenceData.RandomFloats(H, seed + 3) : null);
        }
    }

    /// <summary>gpt-oss's expert biases: gate and up [E][F], down [E][H].</summary>
    private sealed record ExpertBiases(float[] Gate, float[] Up, float[] Down);

    /// <summary>Runs the runtime's plan (kernels, grids, bindings, argument blocks, scratch sizes) on the emulated programs.</summary>
    /// <summary>
    /// The dialect drift check: the OpenCL C programs the generator prints for the same formats, run by the OpenCL
    /// executor on the OpenCL device (pocl in CI), must give what the emulated MSL gave. The two dialects are printed
    /// from separate template text (docs/metal.md), so a change to one dialect's kernels that the other did not get
    /// shows up here as a disagreement, even where both stay within the reference tolerance.
    /// </summary>
    private static void AssertDialectsAgree(MoeLayer w, float[] x, float[] metal)
    {
        OpenCLDevice device;
        try
        {
            device = OpenCLDevice.Select();
        }
        catch (OpenCLException e)
        {
            throw new InvalidOperationException($"the dialect drift check needs an OpenCL device (pocl in CI): {e.Message}", e);
        }

        using var ctx = new OpenCLContext(device);
        MoeProgramSources sources = (type, rows, rowLength) => rows == 0 && rowLength == 0
            ? OpenCLPrinter.PrintFormatProgram(FormatKernels.Get((Generators::Ferrum.Quantization.GgmlType)(uint)type), null)
            : null;
        using var executor = new OpenCLMoeExecutor(ctx, w, sources);
        var opencl = new float[x.Length];
        executor.Forward(x, opencl);
        double num = 0, den = 0;
        for (var i = 0; i < opencl.Length; i++)
        {
            num += ((double)opencl[i] - metal[i]) * ((double)opencl[i] - metal[i]);
            den += (double)metal[i] * metal[i];
        }

        Assert.True(den > 0 && num / den <= 1e-9, $"OpenCL and Metal dialects disagree: NMSE {num / den:E2}");
    }

    private float[] RunAndCompare(MoeLayer w, float[] x, int tokens, (int[] Ids, double[] Weights, double[] Out) reference, bool specialized, bool routeOnly = false)
    {
        var (ids, weights, got) = Run(w, x, tokens, specialized, routeOnly);
        Assert.Equal(reference.Ids, ids);
        for (var i = 0; i < weights.Length; i++)
        {
            Assert.True(Math.Abs(weights[i] - reference.Weights[i]) <= 1e-5 * (1 + Math.Abs(reference.Weights[i])), $"weight {i} = {weights[i]}, reference {reference.Weights[i]}");
        }

        if (routeOnly)
        {
            return [];
        }

        var h = w.Hidden;
        var scale = reference.Out.Max(Math.Abs);
        for (var i = 0; i < got.Length; i++)
        {
            Assert.True(Math.Abs(got[i] - reference.Out[i]) <= (1e-4 * scale) + 1e-6, $"out[{i / h}][{i % h}] = {got[i]}, reference {reference.Out[i]} (max |ref| {scale})");
        }

        return got;
    }

    /// <summary>Runs the runtime's plan on the emulated programs: the routing's ids and weights, and the output.</summary>
    private (int[] Ids, float[] Weights, float[] Out) Run(MoeLayer w, float[] x, int tokens, bool specialized, bool routeOnly = false, bool fastMath = false)
    {
        w.Validate();
        var r = w.Routing;
        var oai = r.Activation == MoeActivation.SwigluOai;
        int h = w.Hidden, f = w.ExpertFfn, e = w.Experts, k = r.ExpertsPerToken;
        var gateLib = programs.Get(w.Gate.Format, specialized ? (f, h) : null, oai, fastMath);
        var downLib = programs.Get(w.Down.Format, specialized ? (h, f) : null, oai, fastMath);
        var shared = w.HasSharedExpert ? new MetalSharedExpert(w.SharedFfn, w.SharedGate!.Format, w.SharedDown!.Format) : null;
        var sharedGateLib = shared is null ? null : programs.Get(shared.GateUp, null, oai, fastMath);
        var sharedDownLib = shared is null ? null : programs.Get(shared.Down, null, oai, fastMath);
        var scratch = new Dictionary<string, byte[]>();
        foreach (var name in new[] { "x", "out", "ids", "weights", "act", "y", "counts", "lists", "shared_w", "zero_ids", "shared_act" })
        {
            scratch[name] = new byte[MetalMoePlan.ScratchBytes(name, tokens, h, f, e, k, w.SharedFfn)];
        }

        MemoryMarshal.AsBytes(x.AsSpan()).CopyTo(scratch["x"]);
        var zeros = new byte[e * 4];
        var plan = MetalMoePlan.Build(h, f, e, k, tokens, w.Gate.Format, w.Down.Format, shared);
        Assert.Equal((tokens >= MetalMoePlan.PrefillTokens ? 5 : 3) + (shared is null ? 0 : 2), plan.Count);
        if (routeOnly)
        {
            plan = [plan[0]];
        }

        var common = MetalMoePlan.Args(w, tokens);
        var handles = scratch.Values.Append(zeros).Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToList();
        try
        {
            nint Pin(byte[] b) => Marshal.UnsafeAddrOfPinnedArrayElement(b, 0);
            nint Resolve(string name) => name switch
            {
                "router" => (nint)w.Router.ExpertPointer(0),
                "gate" => (nint)w.Gate.ExpertPointer(0),
                "up" => (nint)w.Up.ExpertPointer(0),
                "down" => (nint)w.Down.ExpertPointer(0),
                "router_bias" => w.RouterBias != null ? (nint)w.RouterBias.ExpertPointer(0) : Pin(zeros),
                "selection_bias" => w.SelectionBias != null ? (nint)w.SelectionBias.ExpertPointer(0) : Pin(zeros),
                "gate_bias" => w.GateBias != null ? (nint)w.GateBias.ExpertPointer(0) : Pin(zeros),
                "up_bias" => w.UpBias != null ? (nint)w.UpBias.ExpertPointer(0) : Pin(zeros),
                "down_bias" => w.DownBias != null ? (nint)w.DownBias.ExpertPointer(0) : Pin(zeros),
                "shexp_inp" => w.SharedGateInput != null ? (nint)w.SharedGateInput.ExpertPointer(0) : Pin(zeros),
                "shared_gate" => (nint)w.SharedGate!.ExpertPointer(0),
                "shared_up" => (nint)w.SharedUp!.ExpertPointer(0),
                "shared_down" => (nint)w.SharedDown!.ExpertPointer(0),
                _ => Pin(scratch[name]),
            };
            foreach (var d in plan)
            {
                var names = MetalMoePlan.Bindings(d.Step);
                var args = new[] { d.ArgsFrom(common) };
                fixed (MetalMoeArgs* ap = args)
                {
                    var ptrs = new nint[names.Count];
                    ptrs[0] = (nint)ap;
                    for (var i = 1; i < names.Count; i++)
                    {
                        ptrs[i] = Resolve(names[i]);
                    }

                    var lib = d.Step switch
                    {
                        MetalMoeStep.DownVector or MetalMoeStep.DownTile => downLib,
                        MetalMoeStep.SharedGateUp => sharedGateLib!,
                        MetalMoeStep.SharedDown => sharedDownLib!,
                        _ => gateLib,
                    };
                    lib.Dispatch(d.Function, ptrs, Size(d.Threadgroups), Size(d.ThreadsPerThreadgroup));
                }
            }
        }
        finally
        {
            foreach (var hd in handles)
            {
                hd.Free();
            }
        }

        return (
            MemoryMarshal.Cast<byte, int>(scratch["ids"]).ToArray(),
            MemoryMarshal.Cast<byte, float>(scratch["weights"]).ToArray(),
            MemoryMarshal.Cast<byte, float>(scratch["out"]).ToArray());
    }

    /// <summary>Each format's program compiled once for the whole class (a clang -O1 build takes seconds).</summary>
    public sealed class Programs : IDisposable
    {
        private readonly Dictionary<(GgmlType, (int, int)?, bool, bool), MetalEmulator> _built = [];

        public MetalEmulator Get(GgmlType type, (int Rows, int RowLength)? shape, bool oai, bool fastMath = false)
        {
            lock (_built)
            {
                if (!_built.TryGetValue((type, shape, oai, fastMath), out var emulator))
                {
                    var format = FormatKernels.Get((Generators::Ferrum.Quantization.GgmlType)(uint)type);
                    var matrix = shape is { } s ? new MatrixShape(s.Rows, s.RowLength) : null;
                    emulator = MetalEmulator.Compile(Printer.ProgramName(format, matrix), MetalMoePlan.Defines(oai) + Printer.PrintFormatProgram(format, matrix), fastMath);
                    _built.Add((type, shape, oai, fastMath), emulator);
                }

                return emulator;
            }
        }

        public void Dispose()
        {
            foreach (var e in _built.Values)
            {
                e.Dispose();
            }
        }
    }

    private static (long, long, long) Size(MTLSize s) => ((long)s.Width, (long)s.Height, (long)s.Depth);

    /// <summary>
    /// llama.cpp's build_moe_ffn routing in double: logits (+ router bias); softmax, sigmoid, or raw logits for
    /// softmax-over-selected; top-K on prob + selection bias with ties to the smaller index; weights = prob of the
    /// selected (softmax over them for gating 3); renormalized with the sum clamped to 6.103515625e-5; scaled when not
    /// 0 and not 1.
    /// </summary>
    private static (int[] Ids, double[] Weights) Route(float[] x, float[] router, int tokens, MoeRouting r, float[]? routerBias, float[]? selectionBias)
    {
        int k = r.ExpertsPerToken;
        var ids = new int[tokens * k];
        var weights = new double[tokens * k];
        for (var t = 0; t < tokens; t++)
        {
            var logits = new double[E];
            for (var e = 0; e < E; e++)
            {
                for (var c = 0; c < H; c++)
                {
                    logits[e] += (double)router[(e * H) + c] * x[(t * H) + c];
                }

                logits[e] += routerBias?[e] ?? 0;
            }

            double[] probs;
            if (r.Gating == MoeGating.Softmax)
            {
                var max = logits.Max();
                probs = logits.Select(l => Math.Exp(l - max)).ToArray();
                var sum = probs.Sum();
                probs = probs.Select(p => p / sum).ToArray();
            }
            else
            {
                probs = r.Gating == MoeGating.Sigmoid ? logits.Select(l => 1 / (1 + Math.Exp(-l))).ToArray() : logits;
            }

            var score = probs.Select((p, e) => p + (selectionBias?[e] ?? 0)).ToArray();
            if (r.ExpertGroupCount > 1 && r.ExpertGroupsUsed < r.ExpertGroupCount)
            {
                // DeepSeek-V3: a group scores the sum of its two best; experts outside the best groups leave the race.
                var per = E / r.ExpertGroupCount;
                var gs = Enumerable.Range(0, r.ExpertGroupCount).Select(g => score.Skip(g * per).Take(per).OrderDescending().Take(2).Sum()).ToArray();
                var kept = Enumerable.Range(0, r.ExpertGroupCount).OrderByDescending(g => gs[g]).ThenBy(g => g).Take(r.ExpertGroupsUsed).ToHashSet();
                score = score.Select((v, e) => kept.Contains(e / per) ? v : double.NegativeInfinity).ToArray();
            }

            var sel = Enumerable.Range(0, E).OrderByDescending(e => score[e]).ThenBy(e => e).Take(k).ToArray();
            var w = sel.Select(e => probs[e]).ToArray();
            if (r.Gating == MoeGating.SoftmaxOverSelected)
            {
                var max = w.Max();
                w = w.Select(v => Math.Exp(v - max)).ToArray();
                var sum = w.Sum();
                w = w.Select(v => v / sum).ToArray();
            }

            if (r.NormalizeWeights)
            {
                var sum = Math.Max(w.Sum(), 6.103515625e-5);
                w = w.Select(v => v / sum).ToArray();
            }

            if (r.WeightScale != 0 && r.WeightScale != 1)
            {
                w = w.Select(v => v * r.WeightScale).ToArray();
            }

            sel.CopyTo(ids, t * k);
            w.CopyTo(weights, t * k);
        }

        return (ids, weights);
    }

    /// <summary>The whole block in double: routing as above, act(gate·x, up·x) (SiLU·up or gpt-oss's clamped swiglu), down, weighted sum.</summary>
    private static (int[] Ids, double[] Weights, double[] Out) Reference(float[] x, float[] router, float[] gate, float[] up, float[] down, int tokens, MoeRouting routing, float[]? routerBias = null, float[]? selectionBias = null, ExpertBiases? biases = null, SharedWeights? shared = null)
    {
        var (ids, weights) = Route(x, router, tokens, routing, routerBias, selectionBias);
        int k = routing.ExpertsPerToken;
        var output = new double[tokens * H];
        for (var t = 0; t < tokens; t++)
        {
            for (var s = 0; s < k; s++)
            {
                var e = ids[(t * k) + s];
                var act = new double[F];
                for (var r = 0; r < F; r++)
                {
                    double g = biases?.Gate[(e * F) + r] ?? 0, u = biases?.Up[(e * F) + r] ?? 0;
                    for (var c = 0; c < H; c++)
                    {
                        g += (double)gate[(((e * F) + r) * H) + c] * x[(t * H) + c];
                        u += (double)up[(((e * F) + r) * H) + c] * x[(t * H) + c];
                    }

                    if (routing.Activation == MoeActivation.SwigluOai)
                    {
                        var xg = Math.Min(g, 7.0);
                        var yu = Math.Clamp(u, -7.0, 7.0);
                        act[r] = xg / (1 + Math.Exp(-1.702 * xg)) * (yu + 1);
                    }
                    else
                    {
                        act[r] = g / (1 + Math.Exp(-g)) * u;
                    }
                }

                for (var r = 0; r < H; r++)
                {
                    double d = biases?.Down[(e * H) + r] ?? 0;
                    for (var c = 0; c < F; c++)
                    {
                        d += down[(((e * H) + r) * F) + c] * act[c];
                    }

                    output[(t * H) + r] += weights[(t * k) + s] * d;
                }
            }
        }

        if (shared != null)
        {
            // The shared expert: SiLU(gate·x)·(up·x), down, times sigmoid(input·x) when gated (qwen2moe), else 1.
            for (var t = 0; t < tokens; t++)
            {
                double gw = 1;
                if (shared.Input != null)
                {
                    double z = 0;
                    for (var c = 0; c < H; c++)
                    {
                        z += (double)shared.Input[c] * x[(t * H) + c];
                    }

                    gw = 1 / (1 + Math.Exp(-z));
                }

                var act = new double[SF];
                for (var r = 0; r < SF; r++)
                {
                    double g = 0, u = 0;
                    for (var c = 0; c < H; c++)
                    {
                        g += (double)shared.Gate[(r * H) + c] * x[(t * H) + c];
                        u += (double)shared.Up[(r * H) + c] * x[(t * H) + c];
                    }

                    act[r] = g / (1 + Math.Exp(-g)) * u;
                }

                for (var r = 0; r < H; r++)
                {
                    double d = 0;
                    for (var c = 0; c < SF; c++)
                    {
                        d += shared.Down[(r * SF) + c] * act[c];
                    }

                    output[(t * H) + r] += gw * d;
                }
            }
        }

        return (ids, weights, output);
    }
}
