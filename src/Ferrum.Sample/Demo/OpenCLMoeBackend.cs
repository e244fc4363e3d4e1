using Ferrum.Backends.OpenCL;
using Ferrum.Moe;

namespace Ferrum.Sample.Demo;

/// <summary>The OpenCL backend: one <see cref="OpenCLMoeExecutor"/> per MoE layer on one device, programs from kernels.yaml.</summary>
public sealed unsafe class OpenCLMoeBackend : IMoeBackend
{
    private readonly OpenCLContext _context;
    private readonly List<Ferrum.Backends.IMoeExecutor> _layers = [];

    public OpenCLMoeBackend(ModelRunner runner, OpenCLDevice device)
    {
        _context = new OpenCLContext(device);
        try
        {
            // Each executor holds a lease on the mapping, so the layer descriptions can go once it exists.
            var backend = new OpenCLBackend(_context);
            var hp = runner.HyperParameters;
            for (var i = 0; i < hp.BlockCount; i++)
            {
                if (hp.IsMoeLayer(i))
                {
                    using var layer = MoeLayer.Load(runner.File, i);
                    _layers.Add(backend.Create(layer));
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }

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

    public void Forward(int layer, float* x, float* y, int tokens) => _layers[layer].Forward(x, y, tokens);

    public void Dispose()
    {
        foreach (var l in _layers)
        {
            l.Dispose();
        }

        _context.Dispose();
    }
}
