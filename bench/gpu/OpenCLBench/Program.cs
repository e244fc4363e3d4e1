using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Ferrum.Backends.Cpu;
using Ferrum.Backends.OpenCL;
using Ferrum.GgmlReference;
using Ferrum.Moe;
using Ferrum.Quantization;

// One Qwen3-30B-A3B MoE layer (H 2048, F 768, 128 experts, top-8, Q4_K_M: q4_K gate/up, q6_K down) on an OpenCL
// device: full forward (device routing, gate||up, down, weighted sum), wall time per call including the x upload
// and the output read. Prints ms/layer, achieved GB/s (weights and router actually read), the fraction of the device's
// peak memory bandwidth (--peak-gbs, else a table of known GPUs), GFLOP/s, and the NMSE against the CPU executor on
// the same layer and input (agreement; ≤ 1e-3 expected: the CPU quantizes activations to 8 bits, the GPU does not).
const int H = 2048, F = 768, E = 128, K = 8, Distinct = 4;
int[] tokenCounts = [1, 8, 32, 512];
double? peakGbs = null;
var checkCpu = true;
string? device = null;
var seconds = 3.0;
var down = GgmlType.Q6_K;
var options = new OpenCLMoeOptions();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--tokens": tokenCounts = args[++i].Split(',').Select(int.Parse).ToArray(); break;
        case "--device": device = args[++i]; break;
        case "--peak-gbs": peakGbs = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--no-cpu": checkCpu = false; break;
        case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--tpr": options = options with { ThreadsPerRow = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
        case "--rpg": options = options with { RowsPerGroup = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
        case "--nr": options = options with { RowsPerBlock = int.Parse(args[++i], CultureInfo.InvariantCulture) }; break;
        case "--tile": options = options with { TileRows = int.Parse(args[++i], CultureInfo.InvariantCulture), TileTokens = int.Parse(args[i], CultureInfo.InvariantCulture) }; break;
        case "--down": down = GgmlTypeInfo.TryParse(args[++i], out var d) ? d.Type : throw new ArgumentException($"unknown format {args[i]}"); break;
        case "--list":
            foreach (var dev in OpenCLDevice.All())
            {
                Console.WriteLine(dev);
            }

            return 0;
        default:
            Console.Error.WriteLine("usage: ferrum-opencl-bench [--tokens 1,512] [--device INDEX|NAME] [--seconds 3] [--down q6_K|q4_K] [--tpr N] [--rpg N] [--nr N] [--tile N] [--peak-gbs GB/s] [--no-cpu] [--list]");
            return 2;
    }
}

var dev0 = OpenCLDevice.Select(device);
peakGbs ??= PeakBandwidth(dev0.Name);
Console.WriteLine($"device: {dev0}; peak memory bandwidth {(peakGbs is { } pk ? $"{pk:F0} GB/s" : "unknown (pass --peak-gbs)")}");
var sw = Stopwatch.StartNew();
var gate = ExpertTensor(GgmlType.Q4_K, H, F, seed: 1);
var up = ExpertTensor(GgmlType.Q4_K, H, F, seed: 2);
var dn = ExpertTensor(down, F, H, seed: 3);
var rng = new Random(4);
var router = new float[E * H];
for (var i = 0; i < router.Length; i++)
{
    router[i] = (float)(rng.NextDouble() - 0.5) * 0.1f;
}

Console.WriteLine($"weights: q4_K gate/up, {GgmlTypeInfo.Get(down).Name} down, {(gate.Bytes.Length + up.Bytes.Length + dn.Bytes.Length) / 1e6:F1} MB ({sw.Elapsed.TotalSeconds:F1} s to prepare)");


using var ctx = new OpenCLContext(dev0);
sw.Restart();
var routerBytes = GC.AllocateArray<byte>(router.Length * 4, pinned: true);
MemoryMarshal.AsBytes(router.AsSpan()).CopyTo(routerBytes);
using var moe = new MoeLayer
{
    Architecture = "qwen3moe",
    Routing = new MoeRouting { ExpertCount = E, ExpertsPerToken = K, Gating = MoeGating.Softmax, NormalizeWeights = true },
    Router = Stack(GgmlType.F32, routerBytes, "ffn_gate_inp.weight", H, E, 1, 4L * E * H),
    Gate = gate.View,
    Up = up.View,
    Down = dn.View,
};
using var layer = new OpenCLMoeExecutor(ctx, moe, options: options);
var (tpr, rpg) = options.MatVecGeometry(dev0);
Console.WriteLine($"programs and weight buffers ready in {sw.Elapsed.TotalSeconds:F1} s (weights {(layer.WeightsInPlace ? "used in place" : "copied to the device")}; mat-vec {tpr}x{rpg} work-items, tiles {options.TileRows}x{options.TileTokens})");

var expertBytes = gate.ExpertBytes + up.ExpertBytes + dn.ExpertBytes;
using var cpu = checkCpu ? new CpuMoeExecutor(moe, new CpuMoeOptions { MaxTokens = tokenCounts.Max() }) : null;
foreach (var tokens in tokenCounts)
{
    var x = new float[tokens * H];
    for (var i = 0; i < x.Length; i++)
    {
        x[i] = (float)(rng.NextDouble() * 2 - 1);
    }

    var y = new float[tokens * H];
    var ids = new int[tokens * K];
    var w = new float[tokens * K];
    layer.Route(x, ids, w);
    var touched = ids.Distinct().Count();
    layer.Forward(x, y); // warm-up: kernel compiles for this launch geometry
    var times = new List<double>();
    var total = Stopwatch.StartNew();
    while (times.Count < 3 || (total.Elapsed.TotalSeconds < seconds && times.Count < 2000))
    {
        var t0 = Stopwatch.GetTimestamp();
        layer.Forward(x, y);
        times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
    }

    times.Sort();
    var median = times[times.Count / 2];
    var bytes = ((double)touched * expertBytes) + (4.0 * E * H) + (8.0 * tokens * H);
    var flops = tokens * ((2.0 * E * H) + (K * 6.0 * H * F));
    var finite = y.All(float.IsFinite);
    var gbs = bytes / median / 1e9;
    var agreement = string.Empty;
    if (cpu != null)
    {
        var yc = new float[y.Length];
        cpu.Forward(x, yc);
        double num = 0, den = 0;
        for (var i = 0; i < y.Length; i++)
        {
            num += ((double)y[i] - yc[i]) * ((double)y[i] - yc[i]);
            den += (double)yc[i] * yc[i];
        }

        agreement = string.Create(CultureInfo.InvariantCulture, $", NMSE vs CPU {num / den:E2}{(num / den <= 1e-3 ? string.Empty : " (DISAGREES)")}");
    }

    var fraction = peakGbs is { } p ? string.Create(CultureInfo.InvariantCulture, $" ({100 * gbs / p,5:F1}% of peak)") : string.Empty;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"tokens={tokens,4}: {median * 1e3,9:F3} ms/layer (median of {times.Count}), {touched,3} experts read, {gbs,8:F1} GB/s{fraction}, {flops / median / 1e9,8:F1} GFLOP/s{agreement}{(finite ? string.Empty : "  (NON-FINITE OUTPUT)")}"));
}

return 0;

// Nominal HBM/GDDR bandwidth of common NVIDIA GPUs by name (GB/s); null when unknown.
static double? PeakBandwidth(string name)
{
    (string Key, double Gbs)[] known =
    [
        ("H200", 4800), ("H100 NVL", 3900), ("H100 PCIe", 2000), ("H100", 3350), ("GH200", 4000), ("B200", 8000),
        ("A100-SXM4-80GB", 2039), ("A100 80GB PCIe", 1935), ("A100", 1555), ("L40S", 864), ("L4", 300), ("A10", 600),
        ("RTX 4090", 1008), ("RTX 3090", 936), ("V100", 900), ("T4", 320),
    ];
    foreach (var (key, gbs) in known)
    {
        if (name.Contains(key, StringComparison.OrdinalIgnoreCase))
        {
            return gbs;
        }
    }

    return null;
}

// Quantizes Distinct experts with ggml and repeats them to E experts: timing depends on bytes read, not on values.
static unsafe Expert ExpertTensor(GgmlType type, int rowLength, int rows, int seed)
{
    var one = GgmlTypeInfo.Get(type).RowBytes(rowLength) * rows;
    var bytes = GC.AllocateArray<byte>((int)(one * E), pinned: true);
    for (var d = 0; d < Distinct; d++)
    {
        var q = GgmlReferenceData.Quantize((int)type, GgmlReferenceData.RandomFloats(rowLength * rows, seed * 100 + d), rowLength);
        for (var e = d; e < E; e += Distinct)
        {
            q.CopyTo(bytes, e * one);
        }
    }

    return new Expert(bytes, Stack(type, bytes, "expert weights", rowLength, rows, E, one), one);
}

// A stack over a pinned array (the array outlives the layer and the executor).
static unsafe ExpertStack Stack(GgmlType type, byte[] bytes, string name, int rowLength, int rows, int experts, long expertBytes) =>
    ExpertStack.Create(type, WeightBytes.FromPointer((void*)Marshal.UnsafeAddrOfPinnedArrayElement(bytes, 0), bytes.Length), name, 0, experts, rows, rowLength, GgmlTypeInfo.Get(type).RowBytes(rowLength), expertBytes);

internal sealed record Expert(byte[] Bytes, ExpertStack View, long ExpertBytes);
