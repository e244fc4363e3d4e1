using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;

namespace Ferrum.Runtime.Tests.Moe;

/// <summary>Loading an MoE block from a GGUF file (separate and fused gate/up, shared experts, biases) and running it against ggml.</summary>
public sealed unsafe class MoeLayerLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-moe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(MoeTestLayer l, bool fused, int layer = 1)
    {
        const int h = MoeTestLayer.Hidden, f = MoeTestLayer.Ffn, e = MoeTestLayer.Experts;
        var w = new GgufWriter()
            .AddMetadata("general.architecture", l.Arch)
            .AddMetadata(l.Arch + ".block_count", 2u)
            .AddMetadata(l.Arch + ".embedding_length", (uint)h)
            .AddMetadata(l.Arch + ".feed_forward_length", (uint)(f * MoeTestLayer.TopK))
            .AddMetadata(l.Arch + ".expert_feed_forward_length", (uint)f)
            .AddMetadata(l.Arch + ".expert_count", (uint)e)
            .AddMetadata(l.Arch + ".expert_used_count", (uint)MoeTestLayer.TopK);
        if (l.Arch == "qwen2moe")
        {
            w.AddMetadata(l.Arch + ".expert_shared_feed_forward_length", (uint)MoeTestLayer.SharedFfn);
        }

        var info = GgmlTypeInfo.Get(l.Type);
        long rowBytes = info.RowBytes(h);
        string p = $"blk.{layer}.";
        w.AddTensor(p + "ffn_gate_inp.weight", GgmlType.F32, [h, e], Bytes(l.Router));
        if (fused)
        {
            // Per expert: its gate rows, then its up rows.
            var gu = new byte[2 * l.Gate.Length];
            long expertBytes = rowBytes * f;
            for (int x = 0; x < e; x++)
            {
                new ReadOnlySpan<byte>(l.Gate.Pointer + x * expertBytes, (int)expertBytes).CopyTo(gu.AsSpan((int)(2 * x * expertBytes)));
                new ReadOnlySpan<byte>(l.Up.Pointer + x * expertBytes, (int)expertBytes).CopyTo(gu.AsSpan((int)((2 * x + 1) * expertBytes)));
            }

            w.AddTensor(p + "ffn_gate_up_exps.weight", l.Type, [h, 2 * f, e], gu);
        }
        else
        {
            w.AddTensor(p + "ffn_gate_exps.weight", l.Type, [h, f, e], Bytes(l.Gate));
            w.AddTensor(p + "ffn_up_exps.weight", l.Type, [h, f, e], Bytes(l.Up));
        }

        w.AddTensor(p + "ffn_down_exps.weight", l.Type, [f, h, e], Bytes(l.Down));
        if (l.HasShared)
        {
            w.AddTensor(p + "ffn_gate_shexp.weight", l.Type, [h, MoeTestLayer.SharedFfn], Bytes(l.ShGate!));
            w.AddTensor(p + "ffn_up_shexp.weight", l.Type, [h, MoeTestLayer.SharedFfn], Bytes(l.ShUp!));
            w.AddTensor(p + "ffn_down_shexp.weight", l.Type, [MoeTestLayer.SharedFfn, h], Bytes(l.ShDown!));
        }

        if (l.ShInpF != null)
        {
            w.AddTensor(p + "ffn_gate_inp_shexp.weight", GgmlType.F32, [h], Floats(l.ShInpF));
        }

        if (l.HasBias)
        {
            w.AddTensor(p + "ffn_gate_inp.bias", GgmlType.F32, [e], Floats(l.RouterBiasF!));
            w.AddTensor(p + "ffn_gate_exps.bias", GgmlType.F32, [f, e], Floats(l.GateBiasF!));
            w.AddTensor(p + "ffn_up_exps.bias", GgmlType.F32, [f, e], Floats(l.UpBiasF!));
            w.AddTensor(p + "ffn_down_exps.bias", GgmlType.F32, [h, e], Floats(l.DownBiasF!));
        }

        var path = Path.Combine(_dir, $"{l.Arch}-{l.Type}-{fused}.gguf");
        w.WriteTo(path);
        return path;
    }

    private static byte[] Bytes(NativeArray a) => new ReadOnlySpan<byte>(a.Pointer, (int)a.Length).ToArray();

    private static byte[] Floats(float[] v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    [Theory]
    [InlineData(GgmlType.Q4_K, "qwen3moe", false)]
    [InlineData(GgmlType.Q4_K, "qwen3moe", true)]
    [InlineData(GgmlType.Q8_0, "qwen2moe", false)]
    [InlineData(GgmlType.MXFP4, "gpt-oss", true)]
    public void Layer_from_gguf_matches_ggml(GgmlType type, string arch, bool fused)
    {
        using var l = new MoeTestLayer(type, arch, 31);
        var path = Write(l, fused);
        var x = TestData.Gaussian(5 * MoeTestLayer.Hidden, 9);
        var y = new float[x.Length];
        using (var file = GgufFile.Open(path))
        using (var layer = MoeLayer.Load(file, 1))
        {
            Assert.Equal(fused, layer.FusedGateUp);
            Assert.Equal(l.Routing.Gating, layer.Routing.Gating);
            Assert.Equal(l.Routing.NormalizeWeights, layer.Routing.NormalizeWeights);
            using var moe = new CpuMoeExecutor(layer, new CpuMoeOptions { Threads = 2 });
            moe.Forward(x, y);
        }

        double nmse = TestData.Nmse(y, l.Ggml(x, 2));
        Assert.True(nmse <= 5e-4, $"{type} {arch} fused={fused}: NMSE vs ggml {nmse:E2}");
    }

    [Fact]
    public void Missing_tensor_and_wrong_layer_are_clear_errors()
    {
        using var l = new MoeTestLayer(GgmlType.Q8_0, "olmoe", 3);
        var path = Write(l, fused: false, layer: 1);
        using var file = GgufFile.Open(path);
        var ex = Assert.Throws<GgufException>(() => MoeLayer.Load(file, 0));
        Assert.Contains("blk.0.ffn_gate_inp.weight", ex.Message);
        var ex2 = Assert.Throws<GgufException>(() => MoeLayer.Load(file, 7));
        Assert.Contains("out of range", ex2.Message);
    }
}
