namespace Ferrum.Backends;

/// <summary>
/// The one contract every backend's MoE executor implements (CPU, OpenCL, Metal): it runs one MoE block, router to
/// weighted sum, on rows of <c>Hidden</c> floats. The output is the block's FFN output (no residual, no norm).
/// </summary>
public unsafe interface IMoeExecutor : IDisposable
{
    /// <summary>The backend's name: "cpu", "opencl" or "metal".</summary>
    string Backend { get; }

    /// <summary>Hidden size: the length of one token's input and output row.</summary>
    int Hidden { get; }

    /// <summary>Which kernels run, one line per matrix (e.g. "gate: q4_K·q8_K avx512 specialized k=2048").</summary>
    IReadOnlyList<string> KernelPaths { get; }

    /// <summary>Runs the block for <c>x.Length / Hidden</c> tokens; <paramref name="y"/> holds as many rows.</summary>
    /// <remarks>
    /// Contract of every backend: one call at a time per executor — a concurrent call is refused with
    /// <see cref="InvalidOperationException"/> before it touches any state, never run on shared scratch. After
    /// <see cref="IDisposable.Dispose"/> every member throws <see cref="ObjectDisposedException"/>; Dispose is idempotent.
    /// On the CPU backend a token with a NaN or ±∞ input gets NaN outputs (ggml's rule; see docs/reliability.md).
    /// </remarks>
    void Forward(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>Runs the block for <paramref name="tokens"/> rows of <see cref="Hidden"/> floats at <paramref name="x"/> into <paramref name="y"/>.</summary>
    void Forward(float* x, float* y, int tokens);
}
