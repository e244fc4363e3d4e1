using Ferrum.Generated;
using Ferrum.Quantization;

// Calls code generated from this project's kernels.yaml, and the runtime library from the package.
var q4k = GgmlTypeInfo.Get(GgmlType.Q4_K);
Console.WriteLine($"model {Tiny_Moe.Name}: hidden {Tiny_Moe.Hidden}, expert_ffn {Tiny_Moe.ExpertFfn}, experts {Tiny_Moe.Experts}, top_k {Tiny_Moe.TopK}");
Console.WriteLine($"gate row bytes ({q4k.Name}): {q4k.RowBytes(Tiny_Moe.Hidden)}");
