using Ferrum.Backends;
using Ferrum.Backends.OpenCL;
using Ferrum.Kernels;
using Ferrum.Quantization;

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

            var ctx = new OpenCLContext(device);

            // Compiling 16 programs dominates a cold run (pocl, empty cache in CI): build them on every core up front.
            var options = OpenCLMoeExecutor.BuildOptions(device, Options, Hidden, Ffn);
            Parallel.ForEach(
                OpenCLBackend.SupportedFormats,
                new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                f => ctx.BuildProgram(OpenCLProgramNames.Generic(f), Sources(f, 0, 0) ?? throw new InvalidOperationException($"kernels.yaml lacks {f}"), options));
            return ctx;
        });
    }

    public OpenCLContext Context => _context.Value;

    /// <summary>Small tiles so the tests cross tile boundaries in both rows and tokens.</summary>
    public static OpenCLMoeOptions Options { get; } = new() { TileRows = 8, TileTokens = 4, ThreadsPerRow = 16, RowsPerGroup = 4 };

    /// <summary>The programs the generator emitted into this assembly from runtime-tests/kernels.yaml.</summary>
    public static MoeProgramSources Sources { get; } = MoePrograms.Catalog(KernelTarget.OpenCL);

    public void Dispose()
    {
        if (_context.IsValueCreated)
        {
            _context.Value.Dispose();
        }
    }

    /// <summary>Names of every format the OpenCL kernels decode.</summary>
    public static IEnumerable<string> FormatNames => OpenCLBackend.SupportedFormats.Select(t => GgmlTypeInfo.Get(t).Name);
}

[CollectionDefinition(Name)]
public sealed class OpenCLCollection : ICollectionFixture<OpenCLFixture>
{
    /// <summary>One collection: the tests share one context and queue and run one after another.</summary>
    public const string Name = "OpenCL";
}
