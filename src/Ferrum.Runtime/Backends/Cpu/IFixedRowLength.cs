namespace Ferrum.Backends.Cpu;

/// <summary>
/// A row length known at compile time, as a type (generated code declares one per shape in kernels.yaml).
/// Kernels instantiated with it see the block count as a JIT-time constant.
/// </summary>
public interface IFixedRowLength
{
    /// <summary>Elements per row.</summary>
    static abstract int Value { get; }
}
