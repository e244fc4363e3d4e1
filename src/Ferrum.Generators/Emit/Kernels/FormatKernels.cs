using System;
using System.Collections.Generic;
using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// The GPU column of the format rows (<see cref="FormatRow"/>): per row, its decode description (ggml-quants.c
/// dequantize_row_* as math) over the shared block layout (<see cref="BlockLayout"/>: field offsets, sub-block sizes
/// and codebooks come from there, so the runtime's dequantizer and the GPU printers read one layout table). The
/// OpenCL and Metal printers support exactly the rows described here; adding a row's description gives it to both.
/// <c>i</c> is the element inside the block and <c>s</c> the sub-block (elements sharing Scale/Offset).
/// </summary>
internal static class FormatKernels
{
    /// <summary>IQ4_NL / IQ4_XS non-linear 4-bit values (the layout table's codebook, ggml kvalues_iq4nl).</summary>
    public static readonly LookupTable Iq4nl = Table("kvalues_iq4nl", GgmlType.IQ4_NL);

    /// <summary>MXFP4 E2M1 values, doubled so they are integers (the layout table's codebook, ggml kvalues_mxfp4).</summary>
    public static readonly LookupTable Fp4 = Table("kvalues_mxfp4", GgmlType.MXFP4);

    private static readonly Expr I = new Index(IndexVar.Element);
    private static readonly Expr S = new Index(IndexVar.SubBlock);
    private static readonly FloatConst One = new(1f);

    private static readonly Dictionary<GgmlType, FormatKernel> ByType = Build();

    /// <summary>Every described format, in ggml type id order.</summary>
    public static IReadOnlyList<FormatKernel> All { get; } = Sorted();

    /// <summary>The rows without a decode description (empty: every weight format runs on OpenCL and Metal).</summary>
    public static IReadOnlyList<FormatRow> RowsWithoutDescription { get; } = Missing();

    /// <summary>True when <paramref name="type"/> has a description.</summary>
    public static bool IsSupported(GgmlType type) => ByType.ContainsKey(type);

    /// <summary>The description of a format; ArgumentException naming the format when there is none.</summary>
    public static FormatKernel Get(GgmlType type) =>
        ByType.TryGetValue(type, out var k) ? k : throw new ArgumentException($"no GPU kernel description for ggml type {GgmlTypeInfo.Get(type).Name}");

    private static IReadOnlyList<FormatRow> Missing()
    {
        var missing = new List<FormatRow>();
        foreach (var row in FormatRow.All)
        {
            if (!ByType.ContainsKey(row.Type))
            {
                missing.Add(row);
            }
        }

        return missing;
    }

    private static IReadOnlyList<FormatKernel> Sorted()
    {
        var list = new List<FormatKernel>(ByType.Values);
        list.Sort((a, b) => ((uint)a.Type).CompareTo((uint)b.Type));
        return list;
    }

    private static LookupTable Table(string name, GgmlType type)
    {
        var values = new List<int>();
        foreach (var v in BlockLayout.Get(type).Codebook ?? throw new InvalidOperationException($"{type} has no codebook"))
        {
            values.Add(v);
        }

        return new LookupTable(name, values);
    }

    /// <summary>Byte offset of a named field of a format's block (BlockLayout).</summary>
    private static int At(GgmlType type, string field) => BlockLayout.Get(type).Field(field).Offset;

    /// <summary>Elements sharing one scale (BlockLayout.SubBlockSize).</summary>
    private static int Sub(GgmlType type) => BlockLayout.Get(type).SubBlockSize;

    private static Expr U8(Expr offset) => new Load(LoadKind.U8, offset);

    private static Expr I8(Expr offset) => new Load(LoadKind.I8, offset);

    private static Expr F16(int offset) => new Load(LoadKind.F16, offset);

    private static Expr Shr(Expr a, Expr b) => new Binary(BinaryOp.Shr, a, b);

    private static Expr Shl(Expr a, Expr b) => new Binary(BinaryOp.Shl, a, b);

    private static Expr Lt(Expr a, Expr b) => new Binary(BinaryOp.Lt, a, b);

    private static Expr F(Expr intExpr) => new ToFloat(intExpr);

    /// <summary>Nibble of element i in a 32-element group stored as 16 bytes at <paramref name="at"/>: low nibbles first, then high.</summary>
    private static Expr Nibble32(Expr at, Expr i) => Shr(U8(at + (i & 15)), 4 * (i >> 4)) & 15;

    private static Expr Ref(List<Let> lets, string name, Expr value)
    {
        var l = new Let(name, value);
        lets.Add(l);
        return new LetRef(l);
    }

    private static Dictionary<GgmlType, FormatKernel> Build()
    {
        var map = new Dictionary<GgmlType, FormatKernel>();
        void Add(FormatKernel k)
        {
            // Descriptions are keyed by the shared rows: a description of a format without a row is a mistake.
            if (!FormatRow.TryGet(k.Type, out _))
            {
                throw new InvalidOperationException($"GPU decode description for {GgmlTypeInfo.Get(k.Type).Name}, which has no FormatRow");
            }

            map.Add(k.Type, k);
        }

        // Unquantized: one element per block.
        Add(new FormatKernel(GgmlType.F32, Sub(GgmlType.F32), Array.Empty<Let>(), new Load(LoadKind.F32, At(GgmlType.F32, "value")), One, null));
        Add(new FormatKernel(GgmlType.F16, Sub(GgmlType.F16), Array.Empty<Let>(), F16(At(GgmlType.F16, "value")), One, null));
        Add(new FormatKernel(GgmlType.BF16, Sub(GgmlType.BF16), Array.Empty<Let>(), new Load(LoadKind.BF16, At(GgmlType.BF16, "value")), One, null));

        // Q4_0: (q - 8) * d
        {
            const GgmlType t = GgmlType.Q4_0;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            Add(new FormatKernel(t, Sub(t), l, Nibble32(At(t, "qs"), I) - 8, d, null));
        }

        // Q4_1: q * d + m
        {
            const GgmlType t = GgmlType.Q4_1;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var m = Ref(l, "m", F16(At(t, "m")));
            Add(new FormatKernel(t, Sub(t), l, Nibble32(At(t, "qs"), I), d, m));
        }

        // Q5_0: u32 qh, bit i = 5th bit of element i.  ((q | h << 4) - 16) * d
        {
            const GgmlType t = GgmlType.Q5_0;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var h = Shr(U8(At(t, "qh") + (I >> 3)), I & 7) & 1;
            Add(new FormatKernel(t, Sub(t), l, (Nibble32(At(t, "qs"), I) | (h << 4)) - 16, d, null));
        }

        // Q5_1: (q | h << 4) * d + m
        {
            const GgmlType t = GgmlType.Q5_1;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var m = Ref(l, "m", F16(At(t, "m")));
            var h = Shr(U8(At(t, "qh") + (I >> 3)), I & 7) & 1;
            Add(new FormatKernel(t, Sub(t), l, Nibble32(At(t, "qs"), I) | (h << 4), d, m));
        }

        // Q8_0: q * d
        {
            const GgmlType t = GgmlType.Q8_0;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            Add(new FormatKernel(t, Sub(t), l, I8(At(t, "qs") + I), d, null));
        }

        // Q2_K: scales byte s = scale (low nibble) | min (high nibble), sub-blocks of 16. Element i: half n = i>>7,
        // shift pass j = (i>>5)&3, byte 32n + (i&31) of qs.  d*sc*q - dmin*m
        {
            const GgmlType t = GgmlType.Q2_K;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var dmin = Ref(l, "dmin", F16(At(t, "dmin")));
            var sc = Ref(l, "sc", U8(At(t, "scales") + S));
            var q = Shr(U8(At(t, "qs") + (32 * (I >> 7)) + (I & 31)), 2 * ((I >> 5) & 3)) & 3;
            Add(new FormatKernel(t, Sub(t), l, q, d * F(sc & 15), -(dmin * F(sc >> 4))));
        }

        // Q3_K: 16 six-bit scales (+32): nibble (s>>3) of scales[s&7], top bits 2*(s>>2) of scales[8+(s&3)].
        // q2 - (hmask bit (i>>5) of hmask[i&31] ? 0 : 4).  d*(sc-32)*q
        {
            const GgmlType t = GgmlType.Q3_K;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var scales = At(t, "scales");
            var lo = Shr(U8(scales + (S & 7)), 4 * (S >> 3)) & 15;
            var hi = Shr(U8(scales + 8 + (S & 3)), 2 * (S >> 2)) & 3;
            var sc = Ref(l, "sc", (lo | (hi << 4)) - 32);
            var q2 = Shr(U8(At(t, "qs") + (32 * (I >> 7)) + (I & 31)), 2 * ((I >> 5) & 3)) & 3;
            var hbit = Shr(U8(At(t, "hmask") + (I & 31)), I >> 5) & 1;
            Add(new FormatKernel(t, Sub(t), l, q2 - new Select(hbit, 0, 4), d * F(sc), null));
        }

        // Q4_K: get_scale_min_k4; sub-blocks of 32; chunk c = i>>6 holds sub-blocks 2c (low nibbles) and 2c+1 (high
        // nibbles) in qs bytes 32c..32c+31.  d*sc*q - dmin*m
        {
            const GgmlType t = GgmlType.Q4_K;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var dmin = Ref(l, "dmin", F16(At(t, "dmin")));
            var (sc, m) = ScaleMinK4(l, At(t, "scales"));
            var q = Shr(U8(At(t, "qs") + (32 * (I >> 6)) + (I & 31)), 4 * ((I >> 5) & 1)) & 15;
            Add(new FormatKernel(t, Sub(t), l, q, d * F(sc), -(dmin * F(m))));
        }

        // Q5_K: as Q4_K plus qh: bit s of qh[i&31] is the 5th bit.
        {
            const GgmlType t = GgmlType.Q5_K;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var dmin = Ref(l, "dmin", F16(At(t, "dmin")));
            var (sc, m) = ScaleMinK4(l, At(t, "scales"));
            var q = Shr(U8(At(t, "qs") + (32 * (I >> 6)) + (I & 31)), 4 * ((I >> 5) & 1)) & 15;
            var h = Shr(U8(At(t, "qh") + (I & 31)), S) & 1;
            Add(new FormatKernel(t, Sub(t), l, q | (h << 4), d * F(sc), -(dmin * F(m))));
        }

        // Q6_K: sub-blocks of 16. Half n = i>>7, quarter u = (i>>5)&3: low 4 bits = nibble (u>>1) of
        // ql[64n + 32(u&1) + (i&31)], high 2 bits = bits 2u of qh[32n + (i&31)].  d*sc*(q-32)
        {
            const GgmlType t = GgmlType.Q6_K;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var u = (I >> 5) & 3;
            var ql = Shr(U8(At(t, "ql") + (64 * (I >> 7)) + (32 * (u & 1)) + (I & 31)), 4 * (u >> 1)) & 15;
            var qh = Shr(U8(At(t, "qh") + (32 * (I >> 7)) + (I & 31)), 2 * u) & 3;
            Add(new FormatKernel(t, Sub(t), l, (ql | (qh << 4)) - 32, d * F(I8(At(t, "scales") + S)), null));
        }

        // IQ4_NL: d * kvalues_iq4nl[q]
        {
            const GgmlType t = GgmlType.IQ4_NL;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            Add(new FormatKernel(t, Sub(t), l, new TableLookup(Iq4nl, Nibble32(At(t, "qs"), I)), d, null));
        }

        // IQ4_XS: sub-block s of 32: ls = nibble (s&1) of scales_l[s>>1] | bits 2s of u16 scales_h << 4.
        // d*(ls-32)*kvalues_iq4nl[q], IQ4_NL nibble order inside each 32.
        {
            const GgmlType t = GgmlType.IQ4_XS;
            var l = new List<Let>();
            var d = Ref(l, "d", F16(At(t, "d")));
            var scalesH = U8(At(t, "scales_h")) | (U8(At(t, "scales_h") + 1) << 8);
            var ls = Ref(l, "ls", (Shr(U8(At(t, "scales_l") + (S >> 1)), 4 * (S & 1)) & 15) | ((Shr(scalesH, 2 * S) & 3) << 4));
            var q = new TableLookup(Iq4nl, Nibble32(At(t, "qs") + (16 * S), I & 31));
            Add(new FormatKernel(t, Sub(t), l, q, d * F(ls - 32), null));
        }

        // MXFP4: kvalues_mxfp4[q] * 2^(e-128)  (ggml_e8m0_to_fp32_half: denormal for e < 2)
        {
            const GgmlType t = GgmlType.MXFP4;
            var l = new List<Let>();
            var e = Ref(l, "e", U8(At(t, "e")));
            var scale = Ref(l, "de", new BitsToFloat(new Select(Lt(e, 2), Shl(0x00200000, e), (e - 1) << 23)));
            Add(new FormatKernel(t, Sub(t), l, new TableLookup(Fp4, Nibble32(At(t, "qs"), I)), scale, null));
        }

        return map;
    }

    /// <summary>ggml's get_scale_min_k4 for sub-block s over the 12 scale bytes at <paramref name="at"/>.</summary>
    private static (Expr Scale, Expr Min) ScaleMinK4(List<Let> l, int at)
    {
        var low = Lt(S, 4);
        var sc = Ref(l, "sc", new Select(low, U8(at + S) & 63, (U8(at + S + 4) & 15) | ((U8(at + S - 4) >> 6) << 4)));
        var m = Ref(l, "mn", new Select(low, U8(at + S + 4) & 63, (U8(at + S + 4) >> 4) | ((U8(at + S) >> 6) << 4)));
        return (sc, m);
    }
}
