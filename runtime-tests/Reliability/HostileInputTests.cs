using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Moe;
using Ferrum.Quantization;
using Ferrum.Runtime.Tests.Cpu;
using Ferrum.Runtime.Tests.Moe;

namespace Ferrum.Runtime.Tests.Reliability;

/// <summary>
/// Issue 16, "a hostile GGUF crashes the process", "MoeRouting is not validated" and "documented exceptions do not
/// match": bad routing metadata is refused at load with GgufException naming the key; hand-built routings are refused
/// by Validate and by the executor's constructor with ArgumentException; a gate/up format mismatch is a GgufException.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ferrum-rel-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<int, int, string> HostileGroups() => new()
    {
        { 2, 0, "groups used 0" },    // the finding: k = 0 in the group top-K wrote ids[-1]
        { 3, 1, "does not divide" },  // 3 groups of 8 experts
        { 2, 3, "groups used 3" },    // more groups kept than exist
        { 4, 1, "hold fewer" },       // 1 group of 2 experts cannot give K = 2... (8/4 = 2 experts ≥ K: see next)
        { -3, 1, "negative" },        // i32 −3 in the file
    };

    [Theory]
    [MemberData(nameof(HostileGroups))]
    public void Deepseek2_hostile_group_metadata_is_refused_at_load(int groups, int used, string what)
    {
        using var l = new MoeTestLayer(GgmlType.Q8_0, "deepseek2", 181);
        var path = LayerGguf.Write(l, Path.Combine(_dir, $"ds-{groups}-{used}.gguf"), (w, k) =>
        {
            w.AddMetadata(k + "expert_group_count", groups);
            w.AddMetadata(k + "expert_group_used_count", used);
        });
        using var file = GgufFile.Open(path);
        if (what == "hold fewer")
        {
            // 8 experts in 4 groups of 2, keeping 1 group = 2 experts = K: legal, and it runs.
            using var ok = MoeLayer.Load(file, 1);
            using var exec = new CpuMoeExecutor(ok, new CpuMoeOptions { Threads = 1 });
            var y = new float[MoeTestLayer.Hidden];
            exec.Forward(TestData.Gaussian(MoeTestLayer.Hidden, 3), y);
            Assert.All(y, v => Assert.True(float.IsFinite(v)));
            return;
        }

        var ex = Assert.Throws<GgufException>(() => MoeLayer.Load(file, 1));
        Assert.Contains("group", ex.Message);
    }

    [Fact]
    public void Deepseek2_non_finite_weights_scale_is_refused_at_load()
    {
        var path = LayerGguf.Write(new MoeTestLayer(GgmlType.Q8_0, "deepseek2", 183), Path.Combine(_dir, "ds-ok.gguf"));
        var bytes = File.ReadAllBytes(path);

        // Patch the f32 value of deepseek2.expert_weights_scale (2.5) to NaN in place: the key is followed by its type and value.
        var key = System.Text.Encoding.UTF8.GetBytes("deepseek2.expert_weights_scale");
        int at = bytes.AsSpan().IndexOf(key) + key.Length + 4;
        Assert.Equal(2.5f, BitConverter.ToSingle(bytes, at));
        BitConverter.GetBytes(float.NaN).CopyTo(bytes, at);
        var bad = Path.Combine(_dir, "ds-nan.gguf");
        File.WriteAllBytes(bad, bytes);
        using var file = GgufFile.Open(bad);
        var ex = Assert.Throws<GgufException>(() => MoeLayer.Load(file, 1));
        Assert.Contains("scale", ex.Message);
    }

    public static TheoryData<string> BadRoutings() =>
    [
        "k0", "k-1", "k40", "groups-3", "used-3", "groups3", "scaleNaN", "scaleInf", "scale-1", "gating9", "experts0",
    ];

    [Theory]
    [MemberData(nameof(BadRoutings))]
    public void Hand_built_routing_is_refused_by_validate_and_by_the_executor(string which)
    {
        var ok = new MoeRouting { ExpertCount = 32, ExpertsPerToken = 4, ExpertGroupCount = 4, ExpertGroupsUsed = 2 };
        ok.Validate();
        var bad = which switch
        {
            "k0" => ok with { ExpertsPerToken = 0 },
            "k-1" => ok with { ExpertsPerToken = -1 },
            "k40" => ok with { ExpertsPerToken = 40 },
            "groups-3" => ok with { ExpertGroupCount = -3 },
            "used-3" => ok with { ExpertGroupsUsed = -3 },
            "groups3" => ok with { ExpertGroupCount = 3 },
            "scaleNaN" => ok with { WeightScale = float.NaN },
            "scaleInf" => ok with { WeightScale = float.PositiveInfinity },
            "scale-1" => ok with { WeightScale = -1 },
            "gating9" => ok with { Gating = (MoeGating)9 },
            "experts0" => ok with { ExpertCount = 0 },
            _ => throw new ArgumentException(which),
        };
        Assert.Throws<ArgumentException>(() => bad.Validate());

        // The same routing on a real 8-expert layer: refused when the executor is built, never at Forward.
        using var l = new MoeTestLayer(GgmlType.Q8_0, "qwen3moe", 184);
        var r8 = bad with { ExpertCount = which == "experts0" ? 0 : 8, ExpertGroupCount = bad.ExpertGroupCount == 4 ? 0 : bad.ExpertGroupCount, ExpertGroupsUsed = bad.ExpertGroupsUsed == 2 ? 0 : bad.ExpertGroupsUsed };
        if (which == "groups3")
        {
            r8 = r8 with { ExpertGroupsUsed = 1 };
        }

        Assert.ThrowsAny<ArgumentException>(() => new CpuMoeExecutor(l.Layer(r8), new CpuMoeOptions { Threads = 1 }));
    }

    [Fact]
    public void Gate_and_up_of_different_formats_is_a_GgufException_from_Load()
    {
        using var l = new MoeTestLayer(GgmlType.Q4_K, "qwen3moe", 185);
        using var other = new MoeTestLayer(GgmlType.Q8_0, "qwen3moe", 185);
        var path = LayerGguf.Write(l, Path.Combine(_dir, "mismatch.gguf"), upOverride: (GgmlType.Q8_0, LayerGguf.Bytes(other.Up)));
        using var file = GgufFile.Open(path);
        var ex = Assert.Throws<GgufException>(() => MoeLayer.Load(file, 1));
        Assert.Contains("ffn_up_exps", ex.Message);
    }

    [Fact]
    public void A_directory_is_not_a_gguf_file()
    {
        var ex = Assert.Throws<GgufException>(() => GgufFile.Open(_dir));
        Assert.Contains("is a directory", ex.Message);
    }

    [Fact]
    public void Threads_and_tokens_out_of_range_are_refused_by_the_options()
    {
        using var l = new MoeTestLayer(GgmlType.Q8_0, "qwen3moe", 186);
        foreach (var o in new[] { new CpuMoeOptions { Threads = 0 }, new CpuMoeOptions { Threads = CpuMoeOptions.MaxThreads + 1 }, new CpuMoeOptions { MaxTokens = 0 }, new CpuMoeOptions { MaxTokens = -5 } })
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new CpuMoeExecutor(l.Layer(), o));
        }

        using var exec = new CpuMoeExecutor(l.Layer(), new CpuMoeOptions { Threads = 1, MaxTokens = 2 });
        Assert.Throws<ArgumentException>(() => exec.Forward(new float[MoeTestLayer.Hidden + 1], new float[MoeTestLayer.Hidden + 1]));
        Assert.Throws<ArgumentException>(() => exec.Forward(new float[MoeTestLayer.Hidden * 2], new float[MoeTestLayer.Hidden]));
    }
}
