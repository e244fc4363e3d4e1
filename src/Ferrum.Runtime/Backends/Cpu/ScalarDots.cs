using Ferrum.Quantization;
using Ferrum.Quantization.Formats;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// The scalar fallback of the quantized formats: <see cref="ReferenceDot"/> (ggml's generic vec_dot semantics)
/// over pointer-delimited rows. Used where no SIMD path exists for a format on the running machine.
/// </summary>
internal static unsafe class ScalarDots
{
    private static float Dot(GgmlType type, byte* w, byte* a, int blocks)
    {
        var info = GgmlTypeInfo.Get(type);
        var act = GgmlTypeInfo.Get(info.ActivationType);
        int k = blocks * info.BlockSize;
        return ReferenceDot.Dot(type, new ReadOnlySpan<byte>(w, blocks * info.TypeSize), new ReadOnlySpan<byte>(a, (int)act.RowBytes(k)), k);
    }

    public struct Q4K : IRowDot
    {
        public static int BlockElements => Q4KLayout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q4_K, w, a, blocks);
    }

    public struct Q5K : IRowDot
    {
        public static int BlockElements => Q5KLayout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q5_K, w, a, blocks);
    }

    public struct Q6K : IRowDot
    {
        public static int BlockElements => Q6KLayout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q6_K, w, a, blocks);
    }

    public struct Q2K : IRowDot
    {
        public static int BlockElements => Q2KLayout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q2_K, w, a, blocks);
    }

    public struct Q3K : IRowDot
    {
        public static int BlockElements => Q3KLayout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q3_K, w, a, blocks);
    }

    public struct IQ4XS : IRowDot
    {
        public static int BlockElements => IQ4XSLayout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.IQ4_XS, w, a, blocks);
    }

    public struct Q8_0 : IRowDot
    {
        public static int BlockElements => Q8_0Layout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q8_0, w, a, blocks);
    }

    public struct Q4_0 : IRowDot
    {
        public static int BlockElements => Q4_0Layout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q4_0, w, a, blocks);
    }

    public struct Q5_0 : IRowDot
    {
        public static int BlockElements => Q5_0Layout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q5_0, w, a, blocks);
    }

    public struct IQ4NL : IRowDot
    {
        public static int BlockElements => IQ4NLLayout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.IQ4_NL, w, a, blocks);
    }

    public struct MXFP4 : IRowDot
    {
        public static int BlockElements => Mxfp4Layout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.MXFP4, w, a, blocks);
    }

    public struct Q4_1 : IRowDot
    {
        public static int BlockElements => Q4_1Layout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q4_1, w, a, blocks);
    }

    public struct Q5_1 : IRowDot
    {
        public static int BlockElements => Q5_1Layout.BlockElements;

        public static float Dot(byte* w, byte* a, int blocks) => ScalarDots.Dot(GgmlType.Q5_1, w, a, blocks);
    }
}
