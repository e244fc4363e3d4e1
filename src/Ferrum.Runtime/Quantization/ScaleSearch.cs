namespace Ferrum.Quantization;

/// <summary>
/// Search-based scale fitting used by <see cref="Quantizer"/>. Each fit tries a sweep of candidate scales derived
/// from the block's range, re-solves the least-squares scale (and offset) for the codes each candidate produces,
/// and keeps whichever candidate gives the smallest squared error once values are re-rounded with it.
/// Deterministic: fixed candidate sets, no randomness, first-best wins on ties.
/// </summary>
internal static class ScaleSearch
{
    /// <summary>Round half away from zero, then clamp to [lo, hi].</summary>
    public static int RoundClamp(float v, int lo, int hi)
    {
        var r = MathF.Round(v, MidpointRounding.AwayFromZero);
        return r < lo ? lo : r > hi ? hi : (int)r;
    }

    /// <summary>Squared error of x ≈ s·q with q = clamp(round(x/s), lo, hi).</summary>
    public static float SymmetricError(ReadOnlySpan<float> x, float s, int lo, int hi)
    {
        if (s == 0)
        {
            return SumSquares(x);
        }

        var inv = 1 / s;
        var err = 0f;
        foreach (var v in x)
        {
            var e = v - s * RoundClamp(v * inv, lo, hi);
            err += e * e;
        }

        return err;
    }

    /// <summary>Best scale s for x ≈ s·q, q integer in [lo, hi] (lo &lt; 0 &lt; hi); 0 for an all-zero block.</summary>
    public static float FitSymmetric(ReadOnlySpan<float> x, int lo, int hi)
    {
        float max = 0, amax = 0;
        foreach (var v in x)
        {
            var a = MathF.Abs(v);
            if (a > amax)
            {
                amax = a;
                max = v;
            }
        }

        if (amax == 0)
        {
            return 0;
        }

        var best = float.PositiveInfinity;
        var bestS = 0f;
        // Map the extreme element near the negative end (-lo) or near the positive end (hi) of the code range.
        for (var side = 0; side < 2; side++)
        {
            float basis = side == 0 ? -lo : hi;
            float sign = side == 0 ? -1 : 1;
            for (var step = -8; step <= 8; step++)
            {
                var dv = basis + step * (basis / 64f);
                if (dv <= 0.5f)
                {
                    continue;
                }

                var s = max / (sign * dv);
                Consider(x, s, lo, hi, ref best, ref bestS);
                // Least-squares scale for the codes s produced.
                float sxq = 0, sqq = 0;
                var inv = 1 / s;
                foreach (var v in x)
                {
                    var q = RoundClamp(v * inv, lo, hi);
                    sxq += v * q;
                    sqq += q * q;
                }

                if (sqq > 0)
                {
                    Consider(x, sxq / sqq, lo, hi, ref best, ref bestS);
                }
            }
        }

        return bestS;
    }

    private static void Consider(ReadOnlySpan<float> x, float s, int lo, int hi, ref float best, ref float bestS)
    {
        if (!float.IsFinite(s) || s == 0)
        {
            return;
        }

        var err = SymmetricError(x, s, lo, hi);
        if (err < best)
        {
            best = err;
            bestS = s;
        }
    }

    /// <summary>Squared error of x ≈ a + s·q with q = clamp(round((x-a)/s), 0, nmax).</summary>
    public static float AffineError(ReadOnlySpan<float> x, float s, float a, int nmax)
    {
        if (s <= 0)
        {
            var e0 = 0f;
            foreach (var v in x)
            {
                e0 += (v - a) * (v - a);
            }

            return e0;
        }

        var inv = 1 / s;
        var err = 0f;
        foreach (var v in x)
        {
            var e = v - (a + s * RoundClamp((v - a) * inv, 0, nmax));
            err += e * e;
        }

        return err;
    }

    /// <summary>
    /// Best (s ≥ 0, a) for x ≈ a + s·q, q integer in [0, nmax]. With <paramref name="offsetNonPositive"/> the offset is
    /// kept ≤ 0 (K-quants store it as a subtracted non-negative min).
    /// </summary>
    public static void FitAffine(ReadOnlySpan<float> x, int nmax, bool offsetNonPositive, out float scale, out float offset)
    {
        float xmin = x[0], xmax = x[0];
        foreach (var v in x)
        {
            xmin = MathF.Min(xmin, v);
            xmax = MathF.Max(xmax, v);
        }

        if (offsetNonPositive && xmin > 0)
        {
            xmin = 0;
        }

        scale = 0;
        offset = xmin;
        if (xmax <= xmin)
        {
            return;
        }

        var best = AffineError(x, 0, xmin, nmax);
        var n = x.Length;
        for (var step = -5; step <= 15; step++)
        {
            var s = (xmax - xmin) / (nmax + step * 0.1f);
            ConsiderAffine(x, s, xmin, nmax, ref best, ref scale, ref offset);
            float sq = 0, sqq = 0, sx = 0, sxq = 0;
            var inv = 1 / s;
            foreach (var v in x)
            {
                float q = RoundClamp((v - xmin) * inv, 0, nmax);
                sq += q;
                sqq += q * q;
                sx += v;
                sxq += v * q;
            }

            var det = n * sqq - sq * sq;
            if (det <= 0)
            {
                continue;
            }

            var s2 = (n * sxq - sq * sx) / det;
            var a2 = (sqq * sx - sq * sxq) / det;
            if (offsetNonPositive && a2 > 0)
            {
                a2 = 0;
                s2 = sxq / sqq;
            }

            ConsiderAffine(x, s2, a2, nmax, ref best, ref scale, ref offset);
        }
    }

    private static void ConsiderAffine(ReadOnlySpan<float> x, float s, float a, int nmax, ref float best, ref float bestS, ref float bestA)
    {
        if (!(s > 0) || !float.IsFinite(s) || !float.IsFinite(a))
        {
            return;
        }

        var err = AffineError(x, s, a, nmax);
        if (err < best)
        {
            best = err;
            bestS = s;
            bestA = a;
        }
    }

    /// <summary>Index of the codebook entry nearest to v (first of equals).</summary>
    public static int NearestIndex(ReadOnlySpan<sbyte> codebook, float v)
    {
        var bi = 0;
        var be = float.PositiveInfinity;
        for (var i = 0; i < codebook.Length; i++)
        {
            var e = MathF.Abs(v - codebook[i]);
            if (e < be)
            {
                be = e;
                bi = i;
            }
        }

        return bi;
    }

    /// <summary>Squared error of x ≈ s·codebook[q] with the nearest codes.</summary>
    public static float CodebookError(ReadOnlySpan<float> x, float s, ReadOnlySpan<sbyte> codebook)
    {
        if (s == 0)
        {
            return SumSquares(x);
        }

        var inv = 1 / s;
        var err = 0f;
        foreach (var v in x)
        {
            var e = v - s * codebook[NearestIndex(codebook, v * inv)];
            err += e * e;
        }

        return err;
    }

    /// <summary>Best scale s (either sign) for x ≈ s·codebook[q].</summary>
    public static float FitCodebook(ReadOnlySpan<float> x, ReadOnlySpan<sbyte> codebook)
    {
        float max = 0, amax = 0;
        foreach (var v in x)
        {
            var a = MathF.Abs(v);
            if (a > amax)
            {
                amax = a;
                max = v;
            }
        }

        if (amax == 0)
        {
            return 0;
        }

        float lo = codebook[0], hi = codebook[0];
        foreach (var c in codebook)
        {
            lo = MathF.Min(lo, c);
            hi = MathF.Max(hi, c);
        }

        var best = float.PositiveInfinity;
        var bestS = 0f;
        for (var side = 0; side < 2; side++)
        {
            var end = side == 0 ? lo : hi;
            for (var step = -10; step <= 10; step++)
            {
                var s = max / (end * (1 + step * 0.02f));
                ConsiderCodebook(x, s, codebook, ref best, ref bestS);
                float sxg = 0, sgg = 0;
                var inv = 1 / s;
                foreach (var v in x)
                {
                    float g = codebook[NearestIndex(codebook, v * inv)];
                    sxg += v * g;
                    sgg += g * g;
                }

                if (sgg > 0)
                {
                    ConsiderCodebook(x, sxg / sgg, codebook, ref best, ref bestS);
                }
            }
        }

        return bestS;
    }

    private static void ConsiderCodebook(ReadOnlySpan<float> x, float s, ReadOnlySpan<sbyte> codebook, ref float best, ref float bestS)
    {
        if (!float.IsFinite(s) || s == 0)
        {
            return;
        }

        var err = CodebookError(x, s, codebook);
        if (err < best)
        {
            best = err;
            bestS = s;
        }
    }

    public static float SumSquares(ReadOnlySpan<float> x)
    {
        var e = 0f;
        foreach (var v in x)
        {
            e += v * v;
        }

        return e;
    }

    /// <summary>The signed value of largest magnitude (0 for an all-zero span).</summary>
    public static float SignedMax(ReadOnlySpan<float> values)
    {
        float max = 0, amax = 0;
        foreach (var v in values)
        {
            if (MathF.Abs(v) > amax)
            {
                amax = MathF.Abs(v);
                max = v;
            }
        }

        return max;
    }
}
