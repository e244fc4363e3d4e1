extern alias Generators;

using System.Runtime.InteropServices;
using Ferrum.Backends.Metal;
using Ferrum.Generators.Tests.MetalCheck;
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

        var gateLib = programs.Get(gateUpType, specialized ? (F, H) : null);
        var downLib = programs.Get(downType, specialized ? (H, F) : null);
        var buffers = new Dictionary<string, byte[]>
        {
            ["x"] = Bytes(x),
            ["router"] = Bytes(router),
            ["router_bias"] = new byte[E * 4],
            ["selection_bias"] = new byte[E * 4],
            ["gate"] = gateQ,
            ["up"] = upQ,
            ["down"] = downQ,
            ["ids"] = new byte[tokens * K * 4],
            ["weights"] = new byte[tokens * K * 4],
            ["act"] = new byte[tokens * K * F * 4],
            ["y"] = new byte[tokens * K * H * 4],
            ["out"] = new byte[tokens * H * 4],
            ["counts"] = new byte[E * 4],
            ["lists"] = new byte[E * tokens * 4],
        };
        var args = new MetalMoeArgs
        {
            StrideGateUp = (ulong)(gateQ.Length / E),
            StrideDown = (ulong)(downQ.Length / E),
            H = H,
            F = F,
            NExperts = E,
            Topk = K,
            NTokens = tokens,
            MaxPerExpert = tokens,
            Gating = 1,
            Norm = 1,
        };
        var plan = MetalMoePlan.Build(H, F, E, K, tokens, gateUpType, downType);
        Assert.Equal(tokens >= MetalMoePlan.PrefillTokens ? 5 : 3, plan.Count);
        var handles = buffers.ToDictionary(kv => kv.Key, kv => GCHandle.Alloc(kv.Value, GCHandleType.Pinned));
        try
        {
            foreach (var d in plan)
            {
                var names = MetalMoePlan.Bindings(d.Step);
                var ptrs = names.Select((n, i) => i == 0 ? 0 : handles[n].AddrOfPinnedObject()).ToArray();
                var lib = d.Step is MetalMoeStep.DownVector or MetalMoeStep.DownTile ? downLib : gateLib;
                var a = new[] { d.ArgsFrom(args) };
                fixed (MetalMoeArgs* ap = a)
                {
                    ptrs[0] = (nint)ap;
                    lib.Dispatch(d.Function, ptrs, Size(d.Threadgroups), Size(d.ThreadsPerThreadgroup));
                }
            }
        }
        finally
        {
            foreach (var h in handles.Values)
            {
                h.Free();
            }

        }

        var ids = MemoryMarshal.Cast<byte, int>(buffers["ids"]).ToArray();
        Assert.Equal(refIds, ids);
        var got = MemoryMarshal.Cast<byte, float>(buffers["out"]).ToArray();
        var scale = refOut.Max(Math.Abs);
        for (var i = 0; i < got.Length; i++)
        {
            Assert.True(Math.Abs(got[i] - refOut[i]) <= (1e-4 * scale) + 1e-6, $"out[{i / H}][{i % H}] = {got[i]}, reference {refOut[i]} (max |ref| {scale})");
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

    private static byte[] Bytes(float[] v) => MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

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
