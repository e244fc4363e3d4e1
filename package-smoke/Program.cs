using Ferrum.Generated;
using Ferrum.Quantization;

// A user's program: the README's "Use it in your project" example (Example.cs) on a small model.
var path = Path.Combine(Path.GetTempPath(), $"ferrum-smoke-{Environment.ProcessId}.gguf");
try
{
    Fixture.Write(path, Tiny_Moe.Hidden, Tiny_Moe.ExpertFfn, Tiny_Moe.Experts, Tiny_Moe.TopK);
    var y = Example.Run(path);
    var q4k = GgmlTypeInfo.Get(GgmlType.Q4_K);
    Console.WriteLine($"model {Tiny_Moe.Name}: hidden {Tiny_Moe.Hidden}, expert_ffn {Tiny_Moe.ExpertFfn}, experts {Tiny_Moe.Experts}, top_k {Tiny_Moe.TopK}");
    Console.WriteLine($"gate row bytes ({q4k.Name}): {q4k.RowBytes(Tiny_Moe.Hidden)}");
    Console.WriteLine($"output: {y.Length} floats, all finite: {y.All(float.IsFinite)}, non-zero: {y.Any(v => v != 0)}");
}
finally
{
    File.Delete(path);
}
