extern alias Generators;
using System.Runtime.InteropServices;
using Ferrum.Backends.Metal;
using Ferrum.Generators.Tests.MetalCheck;
using Ferrum.Gguf;
using Ferrum.Quantization;
using FormatKernels = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using MatrixShape = Generators::Ferrum.Generators.Emit.Kernels.MatrixShape;
using Printer = Generators::Ferrum.Generators.Emit.Metal.MetalMoePrinter;

namespace Ferrum.Generators.Tests.Kernels;

/// <summary>
/// The generated MSL kernels, run on the CPU under the Metal execution-model emulation (MetalCheck/emu), with the
/// runtime's own dispatch plan (MetalMoePlan: kernels, grids, buffer bindings, #defines), give the MoE result that a
/// double-precision reference computes from ggml's quantization and dequantization of the same weights. This is not a
/// run on Apple hardware (docs/metal.md); it checks the kernels' arithmetic, indexing, reductions and tiling.
/// </summary>
public sealed unsafe class MetalEmulationTests(MetalEmulationTests.Programs programs) : IClassFixture<MetalEmulationTests.Programs>
{
    private const int H = 256;
    private const int F = 256;
    private const int E = 6;
    private const int K = 2;

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

        var (refIds, refOut) = Reference(x, router, gateR, upR, downR, tokens);

        fixed (float* routerP = router)
        fixed (byte* gateP = gateQ, upP = upQ, downP = downQ)
        {
            var weights = new MetalMoeWeights
            {
                Router = new MetalWeightStack("router", GgmlType.F32, (byte*)routerP, H, E, 1),
                Gate = new MetalWeightStack("gate", gateUpType, gateP, H, F, E),
                Up = new MetalWeightStack("up", gateUpType, upP, H, F, E),
                Down = new MetalWeightStack("down", downType, downP, F, H, E),
            };
            RunAndCompare(weights, Qwen3Routing, x, tokens, refIds, refOut, specialized);
        }
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
        var (refIds, refOut) = Reference(x, router, gateR, upR, downR, tokens);

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
            var (weights, routing) = MetalMoeGguf.Load(file, 0);
            Assert.True(weights.PageMapped);
            RunAndCompare(weights, routing, x, tokens, refIds, refOut, specialized: false);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static readonly MetalMoeRouting Qwen3Routing = new() { ExpertsPerToken = K, Gating = 1, NormalizeWeights = true };

    /// <summary>Runs the runtime's plan (kernels, grids, bindings, argument blocks, scratch sizes) on the emulated programs.</summary>
    private void RunAndCompare(MetalMoeWeights w, MetalMoeRouting r, float[] x, int tokens, int[] refIds, double[] refOut, bool specialized)
    {
        int h = w.Hidden, f = w.ExpertFfn, e = w.Experts, k = r.ExpertsPerToken;
        var gateLib = programs.Get(w.Gate.Type, specialized ? (f, h) : null);
        var downLib = programs.Get(w.Down.Type, specialized ? (h, f) : null);
        var scratch = new Dictionary<string, byte[]>();
        foreach (var name in new[] { "x", "out", "ids", "weights", "act", "y", "counts", "lists" })
        {
            scratch[name] = new byte[MetalMoePlan.ScratchBytes(name, tokens, h, f, e, k)];
        }

        MemoryMarshal.AsBytes(x.AsSpan()).CopyTo(scratch["x"]);
        var zeros = new byte[e * 4];
        var plan = MetalMoePlan.Build(h, f, e, k, tokens, w.Gate.Type, w.Down.Type);
        Assert.Equal(tokens >= MetalMoePlan.PrefillTokens ? 5 : 3, plan.Count);
        var common = MetalMoePlan.Args(w, r, tokens);
        var handles = scratch.Values.Append(zeros).Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToList();
        try
        {
            nint Pin(byte[] b) => Marshal.UnsafeAddrOfPinnedArrayElement(b, 0);
            nint Resolve(string name) => name switch
            {
                "router" => (nint)w.Router.Data,
                "gate" => (nint)w.Gate.Data,
                "up" => (nint)w.Up.Data,
                "down" => (nint)w.Down.Data,
                "router_bias" => w.RouterBias != null ? (nint)w.RouterBias : Pin(zeros),
                "selection_bias" => w.SelectionBias != null ? (nint)w.SelectionBias : Pin(zeros),
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

                    var lib = d.Step is MetalMoeStep.DownVector or MetalMoeStep.DownTile ? downLib : gateLib;
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

        Assert.Equal(refIds, MemoryMarshal.Cast<byte, int>(scratch["ids"]).ToArray());
        var got = MemoryMarshal.Cast<byte, float>(scratch["out"]).ToArray();
        var scale = refOut.Max(Math.Abs);
        for (var i = 0; i < got.Length; i++)
        {
            Assert.True(Math.Abs(got[i] - refOut[i]) <= (1e-4 * scale) + 1e-6, $"out[{i / h}][{i % h}] = {got[i]}, reference {refOut[i]} (max |ref| {scale})");
        }
    }

    /// <summary>Each format's program compiled once for the whole class (a clang -O1 build takes seconds).</summary>
    public sealed class Programs : IDisposable
    {
        private readonly Dictionary<(GgmlType, (int, int)?), MetalEmulator> _built = [];

        public MetalEmulator Get(GgmlType type, (int Rows, int RowLength)? shape)
        {
            lock (_built)
            {
                if (!_built.TryGetValue((type, shape), out var emulator))
                {
                    var format = FormatKernels.Get((Generators::Ferrum.Quantization.GgmlType)(uint)type);
                    var matrix = shape is { } s ? new MatrixShape(s.Rows, s.RowLength) : null;
                    emulator = MetalEmulator.Compile(Printer.ProgramName(format, matrix), MetalMoePlan.Defines(false) + Printer.PrintFormatProgram(format, matrix));
                    _built.Add((type, shape), emulator);
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

    /// <summary>Softmax routing, top-K (ties to the smaller index), renormalized weights, SiLU(gate)·up, down, weighted sum; in double.</summary>
    private static (int[] Ids, double[] Out) Reference(float[] x, float[] router, float[] gate, float[] up, float[] down, int tokens)
    {
        var ids = new int[tokens * K];
        var output = new double[tokens * H];
        for (var t = 0; t < tokens; t++)
        {
            var logits = new double[E];
            for (var e = 0; e < E; e++)
            {
                for (var k = 0; k < H; k++)
                {
                    logits[e] += (double)router[(e * H) + k] * x[(t * H) + k];
                }
            }

            var max = logits.Max();
            var probs = logits.Select(l => Math.Exp(l - max)).ToArray();
            var sum = probs.Sum();
            probs = probs.Select(p => p / sum).ToArray();
            var sel = Enumerable.Range(0, E).OrderByDescending(e => probs[e]).ThenBy(e => e).Take(K).ToArray();
            var wsum = Math.Max(sel.Sum(e => probs[e]), 6.103515625e-5);
            for (var s = 0; s < K; s++)
            {
                var e = sel[s];
                ids[(t * K) + s] = e;
                var act = new double[F];
                for (var r = 0; r < F; r++)
                {
                    double g = 0, u = 0;
                    for (var k = 0; k < H; k++)
                    {
                        g += (double)gate[(((e * F) + r) * H) + k] * x[(t * H) + k];
                        u += (double)up[(((e * F) + r) * H) + k] * x[(t * H) + k];
                    }

                    act[r] = g / (1 + Math.Exp(-g)) * u;
                }

                for (var r = 0; r < H; r++)
                {
                    double d = 0;
                    for (var k = 0; k < F; k++)
                    {
                        d += down[(((e * H) + r) * F) + k] * act[k];
                    }

                    output[(t * H) + r] += probs[e] / wsum * d;
                }
            }
        }

        return (ids, output);
    }
}
