namespace Ferrum.Sample.Demo;

/// <summary>One backend executing every MoE layer of a model, as the demo and <c>ferrum run</c> measure it.</summary>
public unsafe interface IMoeBackend : IDisposable
{
    /// <summary>Short name, e.g. "cpu" or "opencl".</summary>
    string Name { get; }

    /// <summary>Which kernels ran (specialized or generic), filled after the first forward.</summary>
    string KernelPath { get; }

    /// <summary>Runs layer <paramref name="layer"/> (an index into the model's MoE layers) on <paramref name="tokens"/> rows.</summary>
    void Forward(int layer, float* x, float* y, int tokens);
}
