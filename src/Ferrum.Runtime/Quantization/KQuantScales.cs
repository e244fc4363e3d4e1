namespace Ferrum.Quantization;

/// <summary>Packing of the K-quant sub-block scales (ggml-quants.c get_scale_min_k4 and the Q3_K scale layout).</summary>
internal static class KQuantScales
{
    /// <summary>Scale and min of sub-block <paramref name="j"/> (0..7) from Q4_K/Q5_K's 12 packed bytes.</summary>
    public static void GetScaleMin(int j, ReadOnlySpan<byte> s, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = s[j] & 63;
            min = s[j + 4] & 63;
        }
        else
        {
            scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
            min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        }
    }

    /// <summary>Packs eight 6-bit scales and mins into 12 bytes (inverse of <see cref="GetScaleMin"/>).</summary>
    public static void PackScaleMin(ReadOnlySpan<byte> scales, ReadOnlySpan<byte> mins, Span<byte> s)
    {
        for (var j = 0; j < 8; j++)
        {
            int ls = scales[j], lm = mins[j];
            if (j < 4)
            {
                s[j] = (byte)ls;
                s[j + 4] = (byte)lm;
            }
            else
            {
                s[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                s[j - 4] |= (byte)((ls >> 4) << 6);
                s[j] |= (byte)((lm >> 4) << 6);
            }
        }
    }

    /// <summary>The 16 stored 6-bit Q3_K scales (0..63, value = stored - 32) from 12 packed bytes.</summary>
    public static void UnpackQ3(ReadOnlySpan<byte> s, Span<int> scales)
    {
        for (var j = 0; j < 16; j++)
        {
            var low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
            var high = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
            scales[j] = low | (high << 4);
        }
    }

    /// <summary>Packs 16 stored 6-bit Q3_K scales (0..63) into 12 bytes.</summary>
    public static void PackQ3(ReadOnlySpan<int> scales, Span<byte> s)
    {
        s.Slice(0, 12).Clear();
        for (var j = 0; j < 16; j++)
        {
            var l = scales[j];
            if (j < 8)
            {
                s[j] |= (byte)(l & 0xF);
            }
            else
            {
                s[j - 8] |= (byte)((l & 0xF) << 4);
            }

            s[8 + (j & 3)] |= (byte)((l >> 4) << (2 * (j >> 2)));
        }
    }
}
