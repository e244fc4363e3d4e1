using System;
using System.Collections.Generic;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// The per-format decode descriptions (ggml-common.h block layouts, ggml-quants.c dequantize_row_* as math). Adding a
/// format here gives it to every printer. Offsets are bytes from the block start; <c>i</c> is the element inside the
/// block and <c>s</c> the sub-block (elements sharing Scale/Offset).
/// </summary>
internal static class FormatKernels
{
    /// <summary>IQ4_NL / IQ4_XS non-linear 4-bit values (ggml-common.h kvalues_iq4nl).</summary>
    public static readonly LookupTable Iq4nl = new("kvalues_iq4nl", new[] { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 });

    /// <summary>MXFP4 E2M1 values, doubled so they are integers (ggml-common.h kvalues_mxfp4).</summary>
    public static readonly LookupTable Fp4 = new("kvalues_mxfp4", new[] { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 });

    private static readonly Expr I = new Index(IndexVar.Element);
    private static readonly Expr S = new Index(IndexVar.SubBlock);
    private static readonly FloatConst One = new(1f);

    private static readonly Dictionary<GgmlType, FormatKernel> ByType = Build();

    /// <summary>Every described format, in ggml type id order.</summary>
    public static IReadOnlyList<FormatKernel> All { get; } = Sorted();

    /// <summary>True when <paramref name="type"/> has a description.</summary>
    public static bool IsSupported(GgmlType type) => ByType.ContainsKey(type);

    /// <summary>The description of a format; ArgumentException naming the format when there is none.</summary>
    public static FormatKernel Get(GgmlType type) =>
        ByType.TryGetValue(type, out var k) ? k : throw new ArgumentException($"no GPU kernel description for ggml type {GgmlTypeInfo.Get(type).Name}");

    private static IReadOnlyList<FormatKernel> Sorted()
    {
        var list = new List<FormatKernel>(ByType.Values);
        list.Sort((a, b) => ((uint)a.Type).CompareTo((uint)b.Type));
        return list;
    }

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
        void Add(FormatKernel k) => map.Add(k.Type, k);

        // Unquantized: one element per block.
        Add(new FormatKernel(GgmlType.F32, 1, Array.Empty<Let>(), new Load(LoadKind.F32, 0), One, null));
        Add(new FormatKernel(GgmlType.F16, 1, Array.Empty<Let>(), F16(0), One, null));
        Add(new FormatKernel(GgmlType.BF16, 1, Array.Empty<Let>(), new Load(LoadKind.BF16, 0), One, null));

        // Q4_0: f16 d; qs[16].  (q - 8) * d
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            Add(new FormatKernel(GgmlType.Q4_0, 32, l, Nibble32(2, I) - 8, d, null));
        }

        // Q4_1: f16 d, f16 m; qs[16].  q * d + m
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            var m = Ref(l, "m", F16(2));
            Add(new FormatKernel(GgmlType.Q4_1, 32, l, Nibble32(4, I), d, m));
        }

        // Q5_0: f16 d; u32 qh (bit i = 5th bit of element i); qs[16].  ((q | h << 4) - 16) * d
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            var h = Shr(U8(2 + (I >> 3)), I & 7) & 1;
            Add(new FormatKernel(GgmlType.Q5_0, 32, l, (Nibble32(6, I) | (h << 4)) - 16, d, null));
        }

        // Q5_1: f16 d, f16 m; u32 qh; qs[16].  (q | h << 4) * d + m
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            var m = Ref(l, "m", F16(2));
            var h = Shr(U8(4 + (I >> 3)), I & 7) & 1;
            Add(new FormatKernel(GgmlType.Q5_1, 32, l, Nibble32(8, I) | (h << 4), d, m));
        }

        // Q8_0: f16 d; i8 qs[32].  q * d
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            Add(new FormatKernel(GgmlType.Q8_0, 32, l, I8(2 + I), d, null));
        }

        // Q2_K: scales[16] (lo nibble scale, hi nibble min); qs[64]; f16 d; f16 dmin. Sub-blocks of 16.
        // Element i: half n = i>>7, shift pass j = (i>>5)&3, byte 32n + (i&31).  d*sc*q - dmin*m
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(80));
            var dmin = Ref(l, "dmin", F16(82));
            var sc = Ref(l, "sc", U8(S));
            var q = Shr(U8(16 + 32 * (I >> 7) + (I & 31)), 2 * ((I >> 5) & 3)) & 3;
            Add(new FormatKernel(GgmlType.Q2_K, 16, l, q, d * F(sc & 15), -(dmin * F(sc >> 4))));
        }

        // Q3_K: hmask[32]; qs[64]; scales[12] (16 six-bit scales, +32); f16 d. Sub-blocks of 16.
        // Scale s: nibble (s>>3) of byte s&7, top bits (2*(s>>2)) of byte 8+(s&3). q2 - (hmask bit (i>>5) of byte i&31 ? 0 : 4)
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(108));
            var lo = Shr(U8(96 + (S & 7)), 4 * (S >> 3)) & 15;
            var hi = Shr(U8(104 + (S & 3)), 2 * (S >> 2)) & 3;
            var sc = Ref(l, "sc", (lo | (hi << 4)) - 32);
            var q2 = Shr(U8(32 + 32 * (I >> 7) + (I & 31)), 2 * ((I >> 5) & 3)) & 3;
            var hbit = Shr(U8(I & 31), I >> 5) & 1;
            Add(new FormatKernel(GgmlType.Q3_K, 16, l, q2 - new Select(hbit, 0, 4), d * F(sc), null));
        }

        // Q4_K: f16 d, f16 dmin; scales[12] (get_scale_min_k4); qs[128]. Sub-blocks of 32; chunk c = i>>6 holds
        // sub-blocks 2c (low nibbles) and 2c+1 (high nibbles) in bytes 32c..32c+31.  d*sc*q - dmin*m
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            var dmin = Ref(l, "dmin", F16(2));
            var (sc, m) = ScaleMinK4(l, 4);
            var q = Shr(U8(16 + 32 * (I >> 6) + (I & 31)), 4 * ((I >> 5) & 1)) & 15;
            Add(new FormatKernel(GgmlType.Q4_K, 32, l, q, d * F(sc), -(dmin * F(m))));
        }

        // Q5_K: as Q4_K plus qh[32]: bit s of qh[i&31] is the 5th bit.
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            var dmin = Ref(l, "dmin", F16(2));
            var (sc, m) = ScaleMinK4(l, 4);
            var q = Shr(U8(48 + 32 * (I >> 6) + (I & 31)), 4 * ((I >> 5) & 1)) & 15;
            var h = Shr(U8(16 + (I & 31)), S) & 1;
            Add(new FormatKernel(GgmlType.Q5_K, 32, l, q | (h << 4), d * F(sc), -(dmin * F(m))));
        }

        // Q6_K: ql[128]; qh[64]; i8 scales[16]; f16 d. Sub-blocks of 16. Half n = i>>7, quarter t = (i>>5)&3:
        // low 4 bits = nibble (t>>1) of ql[64n + 32(t&1) + (i&31)], high 2 bits = bits 2t of qh[32n + (i&31)].  d*sc*(q-32)
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(208));
            var t = (I >> 5) & 3;
            var ql = Shr(U8(64 * (I >> 7) + 32 * (t & 1) + (I & 31)), 4 * (t >> 1)) & 15;
            var qh = Shr(U8(128 + 32 * (I >> 7) + (I & 31)), 2 * t) & 3;
            Add(new FormatKernel(GgmlType.Q6_K, 16, l, (ql | (qh << 4)) - 32, d * F(I8(192 + S)), null));
        }

        // IQ4_NL: f16 d; qs[16].  d * kvalues_iq4nl[q]
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            Add(new FormatKernel(GgmlType.IQ4_NL, 32, l, new TableLookup(Iq4nl, Nibble32(2, I)), d, null));
        }

        // IQ4_XS: f16 d; u16 scales_h; scales_l[4]; qs[128]. Sub-block s of 32: ls = nibble (s&1) of scales_l[s>>1]
        // | bits 2s of scales_h << 4.  d*(ls-32)*kvalues_iq4nl[q]
        {
            var l = new List<Let>();
            var d = Ref(l, "d", F16(0));
            var scalesH = U8(2) | (U8(3) << 8);
            var ls = Ref(l, "ls", (Shr(U8(4 + (S >> 1)), 4 * (S & 1)) & 15) | ((Shr(scalesH, 2 * S) & 3) << 4));
            var q = new TableLookup(Iq4nl, Nibble32(8 + 16 * S, I & 31));
            Add(new FormatKernel(GgmlType.IQ4_XS, 32, l, q, d * F(ls - 32), null));
        }

        // MXFP4: u8 e (E8M0); qs[16].  kvalues_mxfp4[q] * 2^(e-128)  (ggml_e8m0_to_fp32_half, denormal for e < 2)
        {
            var l = new List<Let>();
            var e = Ref(l, "e", U8(0));
            var scale = Ref(l, "de", new BitsToFloat(new Select(Lt(e, 2), Shl(0x00200000, e), (e - 1) << 23)));
            Add(new FormatKernel(GgmlType.MXFP4, 32, l, new TableLookup(Fp4, Nibble32(1, I)), scale, null));
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
