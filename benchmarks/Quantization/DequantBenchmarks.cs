using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Ferrum.Quantization;

namespace Ferrum.Benchmarks.Quantization;

/// <summary>
/// Throughput of the scalar reference dequantizer per format, in GB/s of quantized input (column "GB/s").
/// Run: <c>dotnet run -c Release --project benchmarks -- --filter *Dequant* --job short</c>.
/// </summary>
[Config(typeof(Config))]
public class DequantBenchmarks
{
    /// <summary>Elements per call: 1 Mi, a multiple of every block size.</summary>
    public const int Elements = 1 << 20;

    private byte[] _blocks = [];
    private float[] _dst = [];

    [Params(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS, GgmlType.MXFP4)]
    public GgmlType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        var x = new float[Elements];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        _blocks = new byte[Quantizer.ByteCount(Type, Elements)];
        Quantizer.Quantize(Type, x, _blocks);
        _dst = new float[Elements];
    }

    [Benchmark]
    public void Dequantize() => Dequantizer.Dequantize(Type, _blocks, _dst);

    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new InputThroughputColumn());
    }

    /// <summary>Quantized bytes read per second, from the mean time.</summary>
    private sealed class InputThroughputColumn : IColumn
    {
        public string Id => "InputGBps";
        public string ColumnName => "GB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Quantized input bytes per second (GB/s = bytes / ns)";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null || benchmarkCase.Parameters["Type"] is not GgmlType type)
            {
                return "-";
            }

            return (Quantizer.ByteCount(type, Elements) / stats.Mean).ToString("F2");
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
