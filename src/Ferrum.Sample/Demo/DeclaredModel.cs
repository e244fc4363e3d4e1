using Ferrum.Backends;
using Ferrum.Generated;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Sample.Demo;

/// <summary>
/// Runs a layer through the type the source generator made from the tool's kernels.yaml when the layer has that
/// declared shape (the front door a user's project has), so the kernels generated for the shape are bound; any
/// other layer runs through the backend with the generic kernels.
/// </summary>
public static class DeclaredModel
{
    /// <summary>
    /// An executor for <paramref name="layer"/> of <paramref name="file"/> on <paramref name="backend"/>; disposing it
    /// disposes the generated layer behind it. It holds its own lease on the mapping, so <paramref name="layer"/> may be
    /// disposed right away.
    /// </summary>
    public static IMoeExecutor Create(GgufFile file, MoeLayer layer, IMoeBackend backend) =>
        Matches(layer) ? new Owning(Qwen3_30B_A3B.Load(file, layer.Index, backend)) : backend.Create(layer);

    /// <summary>True when <paramref name="layer"/> has the shape and formats kernels.yaml declares for qwen3-30b-a3b.</summary>
    public static bool Matches(MoeLayer layer) =>
        layer.Architecture == Qwen3_30B_A3B.Arch && layer.Hidden == Qwen3_30B_A3B.Hidden && layer.ExpertFfn == Qwen3_30B_A3B.ExpertFfn
        && layer.Experts == Qwen3_30B_A3B.Experts && layer.TopK == Qwen3_30B_A3B.TopK
        && Qwen3_30B_A3B.GateFormats.Contains(layer.Gate.Format) && Qwen3_30B_A3B.UpFormats.Contains(layer.Up.Format)
        && Qwen3_30B_A3B.DownFormats.Contains(layer.Down.Format);

    // The generated layer's executor, disposed with the layer that owns it.
    private sealed unsafe class Owning(Qwen3_30B_A3B.Layer typed) : IMoeExecutor
    {
        private readonly IMoeExecutor inner = typed.Executor;

        public string Backend => inner.Backend;

        public int Hidden => inner.Hidden;

        public IReadOnlyList<string> KernelPaths => inner.KernelPaths;

        public void Forward(ReadOnlySpan<float> x, Span<float> y) => inner.Forward(x, y);

        public void Forward(float* x, float* y, int tokens) => inner.Forward(x, y, tokens);

        public void Dispose() => typed.Dispose();
    }
}
