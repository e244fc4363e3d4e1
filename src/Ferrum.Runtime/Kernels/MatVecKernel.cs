namespace Ferrum.Kernels;

/// <summary>
/// A CPU matrix-vector kernel over packed weights: for every token <c>b &lt; batch</c> and row <c>r &lt; rows</c>,
/// <c>output[b * rows + r] = Σ_c W[r, c] · input[b * rowLength + c]</c>, where row r of W starts at
/// <c>weights + r * rowStride</c> and holds <paramref name="rowLength"/> elements in the kernel's format.
/// </summary>
/// <param name="weights">First byte of row 0 (e.g. <c>ExpertStack.ExpertPointer(e)</c>).</param>
/// <param name="rowStride">Bytes from one row to the next.</param>
/// <param name="rows">Rows to compute (outputs per token).</param>
/// <param name="rowLength">Elements per row (inputs per token); a multiple of the format's block size.</param>
/// <param name="batch">Tokens.</param>
/// <param name="input"><paramref name="batch"/> × <paramref name="rowLength"/> f32 activations, token-major.</param>
/// <param name="output"><paramref name="batch"/> × <paramref name="rows"/> f32 results, token-major.</param>
/// <remarks>
/// A shape-specialized kernel has the sizes compiled in and throws <see cref="ArgumentException"/> when called
/// with others; a generic kernel validates them. Kernels may quantize the activations internally (as ggml does
/// with its vec_dot type); the contract is f32 in, f32 out.
/// </remarks>
public unsafe delegate void MatVecKernel(byte* weights, long rowStride, int rows, int rowLength, int batch, float* input, float* output);
