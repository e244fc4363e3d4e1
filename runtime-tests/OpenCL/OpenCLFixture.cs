extern alias Generators;

using Ferrum.Backends.OpenCL;
using GFormats = Generators::Ferrum.Generators.Emit.Kernels.FormatKernels;
using GPrinter = Generators::Ferrum.Generators.Emit.Kernels.OpenCLMoePrinter;
using GShape = Generators::Ferrum.Generators.Emit.Kernels.MatrixShape;
using GType = Generators::Ferrum.Quantization.GgmlType;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>
/// The OpenCL device every OpenCL test runs on (FERRUM_OPENCL_DEVICE, else the first GPU, else the first device;
/// pocl's CPU device in CI). A missing device fails the tests: CI sets FERRUM_REQUIRE_OPENCL=1 and installs
/// pocl-opencl-icd, and a developer machine needs the same packages.
/// </summary>
public sealed class OpenCLFixture : IDisposable
{
    /// <summary>The small MoE shape of the kernel tests; K-quant rows need multiples of 256.</summary>
    public const int Hidden = 256;
    public const int Ffn = 256;
    public const int Experts = 8;
    public const int TopK = 2;

    private readonly Lazy<OpenCLContext> _context;

    public OpenCLFixture()
    {
        _context = new Lazy<OpenCLContext>(() =>
        {
            OpenCLDevice device;
            try
            {
                device = OpenCLDevice.Select();
            }
            catch (OpenCLException e)
            {
                var required = Environment.GetEnvironmentVariable("FERRUM_REQUIRE_OPENCL") == "1" ? " (FERRUM_REQUIRE_OPENCL=1)" : string.Empty;
                throw new InvalidOperationException($"OpenCL tests need a device{required}: {e.Message}", e);
            }

            return new OpenCLContext(device);
        });
    }

    public OpenCLContext Context => _context.Value;

    /// <summary>Small tiles so the tests cross tile boundaries in both rows and tokens.</summary>
    public static OpenCLMoeOptions Options { get; } = new() { TileRows = 8, TileTokens = 4, ThreadsPerRow = 16, RowsPerGroup = 4 };

    /// <summary>Program sources straight from the generator's printer: every format, shape-generic.</summary>
    public static OpenCLKernelSources Sources { get; } = BuildSources();

    public void Dispose()
    {
        if (_context.IsValueCreated)
        {
            _context.Value.Dispose();
        }
    }

    private static OpenCLKernelSources BuildSources()
    {
        var map = GFormats.All.ToDictionary(f => (uint)f.Type, f => GPrinter.PrintFormatProgram(f, null));
        return (format, rows, rowLength) => rows == 0 && rowLength == 0 && map.TryGetValue((uint)format, out var s) ? s : null;
    }

    /// <summary>A program specialized for one format and matrix shape (for the baked-constant tests).</summary>
    public static (string Name, string Source) Specialized(string format, int rows, int rowLength)
    {
        var f = GFormats.All.Single(k => k.Name == format);
        var shape = new GShape(rows, rowLength);
        return (GPrinter.ProgramName(f, shape), GPrinter.PrintFormatProgram(f, shape));
    }

    /// <summary>The printer's program name (to check the runtime's naming convention against).</summary>
    public static string PrinterProgramName(string format, int rows, int rowLength)
    {
        var f = GFormats.All.Single(k => k.Name == format);
        return GPrinter.ProgramName(f, rows == 0 ? null : new GShape(rows, rowLength));
    }

    /// <summary>Names of every described format.</summary>
    public static IEnumerable<string> FormatNames => GFormats.All.Select(f => f.Name);
}

[CollectionDefinition(Name)]
public sealed class OpenCLCollection : ICollectionFixture<OpenCLFixture>
{
    /// <summary>One collection: the tests share one context and queue and run one after another.</summary>
    public const string Name = "OpenCL";
}
