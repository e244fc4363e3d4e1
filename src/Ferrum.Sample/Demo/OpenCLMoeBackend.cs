using Ferrum.Backends.OpenCL;

namespace Ferrum.Sample.Demo;

/// <summary>The OpenCL backend: one <see cref="OpenCLMoeLayer"/> per MoE layer on one device, programs from kernels.yaml.</summary>
public sealed unsafe class OpenCLMoeBackend : IMoeBackend
{
    private readonly OpenCLContext _context;
    private readonly OpenCLMoeLayer[] _layers;
    private readonly int _hidden;
    private readonly OpenCLMoePath _path = OpenCLMoePath.Auto;

    public OpenCLMoeBackend(ModelRunner runner, OpenCLDevice device)
    {
        _context = new OpenCLContext(device);
        try
        {
            _layers = runner.Layers.Select(l => OpenCLMoeLayer.FromGguf(_context, OpenCLGeneratedSources.Catalog, runner.File, l.Layer)).ToArray();
        }
        catch
        {
            _context.Dispose();
            throw;
        }

        _hidden = runner.Hidden;
        Device = device;
    }

    public OpenCLDevice Device { get; }

    public string Name => "opencl";

    public string KernelPath => $"{Device.Name} ({(Device.IsGpu ? "GPU" : Device.IsCpu ? "CPU" : "other")})";

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

    public void Forward(int layer, float* x, float* y, int tokens) =>
        _layers[layer].Forward(new ReadOnlySpan<float>(x, tokens * _hidden), tokens, new Span<float>(y, tokens * _hidden), _path);

    public void Dispose()
    {
        foreach (var l in _layers)
        {
            l.Dispose();
        }

        _context.Dispose();
    }
}
