using System.Diagnostics.CodeAnalysis;
using Ferrum.Backends;
using Ferrum.Backends.OpenCL;
using Ferrum.Gguf;
using Ferrum.Moe;

namespace Ferrum.Sample.Demo;

/// <summary>The OpenCL backend as the demo measures it: one executor per MoE layer on one device, programs from kernels.yaml.</summary>
public static class OpenCLMoeBackend
{
    /// <summary>
    /// The device the demo measures: an explicitly chosen one (FERRUM_OPENCL_DEVICE), else the first GPU; null when
    /// there is none. A CPU OpenCL device (pocl) is not picked by default: the CPU backend is the fast path there.
    /// </summary>
    public static OpenCLDevice? Pick()
    {
        try
        {
            if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(OpenCLDevice.EnvironmentVariable)))
            {
                return OpenCLDevice.Select();
            }

            return OpenCLDevice.All().FirstOrDefault(d => d.IsGpu);
        }
        catch (OpenCLException)
        {
            return null;
        }
    }

    /// <summary>Executors for every MoE layer of the runner's model on <paramref name="device"/>.</summary>
    public static LayerExecutors Executors(ModelRunner runner, OpenCLDevice device)
    {
        var context = new OpenCLContext(device);
        return new LayerExecutors(new LegacyBackend(context, runner.File), runner.File, runner.Layers, $"{device.Name} ({(device.IsGpu ? "GPU" : device.IsCpu ? "CPU" : "other")})", context);
    }

    // Bridges the OpenCL layer until it implements the executor contract itself.
    private sealed class LegacyBackend(OpenCLContext context, GgufFile file) : IMoeBackend
    {
        public string Name => "opencl";

        public bool Supports(MoeLayer layer, [NotNullWhen(false)] out string? reason)
        {
            reason = null;
            return true;
        }

        public IMoeExecutor Create(MoeLayer layer) => new Executor(OpenCLMoeLayer.FromGguf(context, OpenCLGeneratedSources.Catalog, file, layer.Index), layer.Hidden);
    }

    private sealed unsafe class Executor(OpenCLMoeLayer layer, int hidden) : IMoeExecutor
    {
        public string Backend => "opencl";

        public int Hidden => hidden;

        public IReadOnlyList<string> KernelPaths => ["opencl"];

        public void Forward(ReadOnlySpan<float> x, Span<float> y) => layer.Forward(x, x.Length / hidden, y);

        public void Forward(float* x, float* y, int tokens) =>
            layer.Forward(new ReadOnlySpan<float>(x, tokens * hidden), tokens, new Span<float>(y, tokens * hidden));

        public void Dispose() => layer.Dispose();
    }
}
