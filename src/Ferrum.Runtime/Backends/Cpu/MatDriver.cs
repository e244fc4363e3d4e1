namespace Ferrum.Backends.Cpu;

/// <summary>
/// Loops a format's row dot over rows and tokens. For several tokens it walks the rows in small tiles and
/// passes every token over a tile while its weights are still in L1, so each weight byte comes from DRAM once per batch.
/// </summary>
internal static unsafe class MatDriver
{
    /// <summary>Rows per tile in batched mode (8 Q4_K rows of 2048 = 9 KiB, well inside L1).</summary>
    public const int RowTile = 8;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Run<T>(int k, byte* w, long rowBytes, int rows, byte* act, long actStride, int* tokenIndex, int tokens, float* y, long yStride)
        where T : struct, IRowDot
    {
        int blocks = k / T.BlockElements;
        if (tokens == 1)
        {
            byte* a0 = tokenIndex == null ? act : act + tokenIndex[0] * actStride;
            RowsOneToken<T>(w, rowBytes, rows, a0, y, blocks);
            return;
        }

        for (int r0 = 0; r0 < rows; r0 += RowTile)
        {
            int r1 = Math.Min(rows, r0 + RowTile);
            for (int t = 0; t < tokens; t++)
            {
                byte* a = act + (tokenIndex == null ? t : tokenIndex[t]) * actStride;
                float* yt = y + t * yStride;
                for (int r = r0; r < r1; r++)
                {
                    yt[r] = T.Dot(w + r * rowBytes, a, blocks);
                }
            }
        }
    }

    /// <summary>Rows ahead of the current one that the single-token loop prefetches (weights stream from DRAM there).</summary>
    public static int PrefetchRows = 4;

    // One token: every weight byte is used once, so the loop is a DRAM stream. The hardware prefetcher stops at
    // each 4 KiB page; software prefetch of the row PrefetchRows ahead keeps the next lines in flight.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void RowsOneToken<T>(byte* w, long rowBytes, int rows, byte* a0, float* y, int blocks)
        where T : struct, IRowDot
    {
        int ahead = PrefetchRows;
        if (ahead > 0 && System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            for (int r = 0; r < rows; r++)
            {
                if (r + ahead < rows)
                {
                    byte* next = w + (r + ahead) * rowBytes;
                    for (long off = 0; off < rowBytes; off += 64)
                    {
                        System.Runtime.Intrinsics.X86.Sse.Prefetch0(next + off);
                    }
                }

                y[r] = T.Dot(w + r * rowBytes, a0, blocks);
            }

            return;
        }

        for (int r = 0; r < rows; r++)
        {
            y[r] = T.Dot(w + r * rowBytes, a0, blocks);
        }
    }

    /// <summary>
    /// Benchmark knob: true sends a leftover three through Dot2 and a single Dot even where the kernel's
    /// <see cref="IRowDot4.PadThree"/> asks for the padded Dot4 (cpu-kquants and cpu-kstream measure both ways).
    /// </summary>
    public static bool ForceThreeAsDot2;

    /// <summary>
    /// As <see cref="Run{T}"/>, with batches handled four tokens at a time by <see cref="IRowDot4.Dot4"/>; a leftover
    /// pair goes through <see cref="IRowDot4.Dot2"/> where the kernel has one, and a leftover three through a Dot4 whose
    /// fourth row repeats the third where it has none (one decode for three tokens beats three single dots) or where
    /// it measured faster than Dot2 + Dot (<see cref="IRowDot4.PadThree"/>).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Run4<T>(int k, byte* w, long rowBytes, int rows, byte* act, long actStride, int* tokenIndex, int tokens, float* y, long yStride)
        where T : struct, IRowDot4
    {
        if (tokens == 1)
        {
            Run<T>(k, w, rowBytes, rows, act, actStride, tokenIndex, tokens, y, yStride);
            return;
        }

        Batched<T>(k / T.BlockElements, w, rowBytes, rows, act, actStride, tokenIndex, tokens, y, yStride);
    }

    /// <summary><see cref="Run4{T}"/> with the row length a compile-time constant (<typeparamref name="TK"/>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void RunFixed4<T, TK>(int k, byte* w, long rowBytes, int rows, byte* act, long actStride, int* tokenIndex, int tokens, float* y, long yStride)
        where T : struct, IRowDot4
        where TK : struct, IFixedRowLength
    {
        int blocks = TK.Value / T.BlockElements;
        if (tokens == 1)
        {
            RowsOneToken<T>(w, rowBytes, rows, tokenIndex == null ? act : act + tokenIndex[0] * actStride, y, blocks);
            return;
        }

        Batched<T>(blocks, w, rowBytes, rows, act, actStride, tokenIndex, tokens, y, yStride);
    }

    // Row tiles of RowTile rows (weights stay in L1 while every token passes over them); over each tile, groups of
    // four tokens, then the leftover one to three.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Batched<T>(int blocks, byte* w, long rowBytes, int rows, byte* act, long actStride, int* tokenIndex, int tokens, float* y, long yStride)
        where T : struct, IRowDot4
    {
        byte** a = stackalloc byte*[4];
        float* r = stackalloc float[4];
        for (int r0 = 0; r0 < rows; r0 += RowTile)
        {
            int r1 = Math.Min(rows, r0 + RowTile);
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
            {
                for (int i = 0; i < 4; i++)
                {
                    a[i] = act + (tokenIndex == null ? t + i : tokenIndex[t + i]) * actStride;
                }

                for (int row = r0; row < r1; row++)
                {
                    T.Dot4(w + row * rowBytes, a, blocks, r);
                    y[t * yStride + row] = r[0];
                    y[(t + 1) * yStride + row] = r[1];
                    y[(t + 2) * yStride + row] = r[2];
                    y[(t + 3) * yStride + row] = r[3];
                }
            }

            if (tokens - t == 3 && (!T.HasDot2 || (T.PadThree && !ForceThreeAsDot2)))
            {
                for (int i = 0; i < 4; i++)
                {
                    int ti = t + Math.Min(i, 2);
                    a[i] = act + (tokenIndex == null ? ti : tokenIndex[ti]) * actStride;
                }

                for (int row = r0; row < r1; row++)
                {
                    T.Dot4(w + row * rowBytes, a, blocks, r);
                    y[t * yStride + row] = r[0];
                    y[(t + 1) * yStride + row] = r[1];
                    y[(t + 2) * yStride + row] = r[2];
                }

                t += 3;
            }

            if (T.HasDot2 && t + 2 <= tokens)
            {
                byte* p0 = act + (tokenIndex == null ? t : tokenIndex[t]) * actStride;
                byte* p1 = act + (tokenIndex == null ? t + 1 : tokenIndex[t + 1]) * actStride;
                for (int row = r0; row < r1; row++)
                {
                    T.Dot2(w + row * rowBytes, p0, p1, blocks, r);
                    y[t * yStride + row] = r[0];
                    y[(t + 1) * yStride + row] = r[1];
                }

                t += 2;
            }

            for (; t < tokens; t++)
            {
                byte* at = act + (tokenIndex == null ? t : tokenIndex[t]) * actStride;
                for (int row = r0; row < r1; row++)
                {
                    y[t * yStride + row] = T.Dot(w + row * rowBytes, at, blocks);
                }
            }
        }
    }
}
