using Ferrum.Quantization.Formats;

namespace Ferrum.Quantization;

/// <summary>Argument checks shared by the quantization entry points; every message names the type and the sizes.</summary>
internal static class QuantArgs
{
    /// <summary>The layout of a supported weight format, or a clear ArgumentException.</summary>
    public static BlockLayout Layout(GgmlType type, string param, bool allowActivationTypes = false)
    {
        if (!BlockLayout.TryGet(type, out var layout) || (!allowActivationTypes && type is GgmlType.Q8_1 or GgmlType.Q8_K))
        {
            throw new ArgumentException($"ggml type {type} is not a supported weight format", param);
        }

        return layout;
    }

    /// <summary>Number of blocks for <paramref name="elements"/> elements, checking divisibility and the byte length.</summary>
    public static int Blocks(BlockLayout layout, int elements, int byteLength, string elementsParam, string bytesParam)
    {
        if (elements % layout.BlockSize != 0)
        {
            throw new ArgumentException(
                $"{layout.Type}: {elements} elements is not a multiple of the block size {layout.BlockSize}", elementsParam);
        }

        var blocks = elements / layout.BlockSize;
        if ((long)blocks * layout.TypeSize != byteLength)
        {
            throw new ArgumentException(
                $"{layout.Type}: {elements} elements need {(long)blocks * layout.TypeSize} bytes ({blocks} blocks of {layout.TypeSize}), got {byteLength}",
                bytesParam);
        }

        return blocks;
    }
}
