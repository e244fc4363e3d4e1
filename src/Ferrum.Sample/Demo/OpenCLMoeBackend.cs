using Ferrum.Backends.OpenCL;

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
        return new LayerExecutors(new OpenCLBackend(context), runner.File, runner.Layers, $"{device.Name} ({(device.IsGpu ? "GPU" : device.IsCpu ? "CPU" : "other")})", context);
    }
}
