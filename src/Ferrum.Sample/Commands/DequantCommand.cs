using System.CommandLine;
using System.Runtime.InteropServices;
using Ferrum.Gguf;
using Ferrum.Quantization;

namespace Ferrum.Sample.Commands;

/// <summary><c>ferrum dequant FILE.gguf TENSOR --out OUT.f32</c>: a tensor as raw little-endian float32, ne[0] fastest.</summary>
public static class DequantCommand
{
    // Rows are decoded in chunks so a multi-gigabyte tensor needs only a small buffer.
    private const int ChunkElements = 1 << 20;

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The GGUF file." };
        var tensor = new Argument<string>("tensor") { Description = "Name of the tensor, e.g. blk.0.ffn_down_exps.weight." };
        var output = new Option<string>("--out") { Description = "Output file: raw little-endian float32, ne[0] fastest.", Required = true };
        var cmd = new Command("dequant", "Dequantize one tensor of a GGUF file to raw float32 with Ferrum's reference decoder (bit-identical to ggml's to_float).");
        cmd.Arguments.Add(file);
        cmd.Arguments.Add(tensor);
        cmd.Options.Add(output);
        cmd.SetAction(parse => CliErrors.Guard(parse, () =>
        {
            using var gguf = ModelFiles.Open(parse.GetValue(file)!);
            var info = gguf.GetTensor(parse.GetValue(tensor)!);
            var written = Run(gguf, info, parse.GetValue(output)!);
            Console.WriteLine($"{info.Name}: {info.TypeInfo.Name} {info.ShapeString} -> {written:N0} floats");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Decodes <paramref name="info"/> into <paramref name="path"/>; returns the number of floats written.</summary>
    public static unsafe long Run(GgufFile gguf, GgufTensorInfo info, string path)
    {
        if (!Dequantizer.Supports(info.Type))
        {
            throw new GgufException($"tensor '{info.Name}' has type {info.TypeInfo.Name}, which Ferrum cannot dequantize");
        }

        var rowElements = info.Ne(0);
        var rowBytes = info.RowBytes;
        var rowsPerChunk = (int)Math.Max(1, ChunkElements / Math.Max(1, rowElements));
        var buffer = new float[checked(rowsPerChunk * rowElements)];
        var source = gguf.GetTensorPointer(info);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        for (long row = 0; row < info.RowCount; row += rowsPerChunk)
        {
            var rows = (int)Math.Min(rowsPerChunk, info.RowCount - row);
            var dst = buffer.AsSpan(0, checked((int)(rows * rowElements)));
            Dequantizer.Dequantize(info.Type, new ReadOnlySpan<byte>(source + (row * rowBytes), checked((int)(rows * rowBytes))), dst);
            stream.Write(MemoryMarshal.AsBytes(dst));
        }

        return info.ElementCount;
    }
}
