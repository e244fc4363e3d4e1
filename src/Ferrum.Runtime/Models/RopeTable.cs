namespace Ferrum.Models;

/// <summary>
/// Cos/sin of every (position, pair) RoPE rotates, computed once per session the way ggml's rope cache does it
/// (ggml_rope_cache_init / rope_yarn): theta = p · base^(−2i/n_rot) by repeated float multiplication, YaRN
/// interpolation ramp between the correction dimensions, and YaRN's magnitude scale.
/// </summary>
internal sealed class RopeTable
{
    private readonly float[] _cos, _sin;

    public RopeTable(MoeModelConfig c, int positions, float[]? freqFactors)
    {
        Half = c.RopeDimensions / 2;
        _cos = new float[positions * Half];
        _sin = new float[positions * Half];
        int nDims = c.RopeDimensions;
        float thetaScale = MathF.Pow(c.RopeFreqBase, -2.0f / nDims);
        float freqScale = c.RopeFreqScale;
        float extFactor = c.RopeYarn ? 1f : 0f;
        const float attnFactor = 1f;

        // ggml_rope_yarn_corr_dims.
        float CorrDim(float nRot) => nDims * MathF.Log(c.RopeOriginalContext / (nRot * 2 * MathF.PI)) / (2 * MathF.Log(c.RopeFreqBase));
        float low = MathF.Max(0, MathF.Floor(CorrDim(c.YarnBetaFast)));
        float high = MathF.Min(nDims - 1, MathF.Ceiling(CorrDim(c.YarnBetaSlow)));

        for (int p = 0; p < positions; p++)
        {
            float theta = p;
            for (int i = 0; i < Half; i++)
            {
                float ff = freqFactors != null ? freqFactors[i] : 1f;
                float extrap = theta / ff;
                float interp = freqScale * extrap;
                float t = interp, mscale = attnFactor;
                if (extFactor != 0f)
                {
                    float y = (i - low) / MathF.Max(0.001f, high - low);
                    float rampMix = (1 - MathF.Min(1, MathF.Max(0, y))) * extFactor;
                    t = (interp * (1 - rampMix)) + (extrap * rampMix);
                    mscale *= 1.0f + (0.1f * MathF.Log(1.0f / freqScale));
                }

                _cos[(p * Half) + i] = MathF.Cos(t) * mscale;
                _sin[(p * Half) + i] = MathF.Sin(t) * mscale;
                theta *= thetaScale;
            }
        }

        Kind = c.Rope;
    }

    /// <summary>Pairs rotated per head (n_rot / 2).</summary>
    public int Half { get; }

    public RopeKind Kind { get; }

    /// <summary>Rotates the first n_rot elements of one head at <paramref name="position"/> in place.</summary>
    public unsafe void Apply(float* head, int position)
    {
        fixed (float* cp = &_cos[position * Half], sp = &_sin[position * Half])
        {
            if (Kind == RopeKind.Neox)
            {
                for (int i = 0; i < Half; i++)
                {
                    float x0 = head[i], x1 = head[i + Half];
                    head[i] = (x0 * cp[i]) - (x1 * sp[i]);
                    head[i + Half] = (x0 * sp[i]) + (x1 * cp[i]);
                }
            }
            else
            {
                for (int i = 0; i < Half; i++)
                {
                    float x0 = head[2 * i], x1 = head[(2 * i) + 1];
                    head[2 * i] = (x0 * cp[i]) - (x1 * sp[i]);
                    head[(2 * i) + 1] = (x0 * sp[i]) + (x1 * cp[i]);
                }
            }
        }
    }
}
