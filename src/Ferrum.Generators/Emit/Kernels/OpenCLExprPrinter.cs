namespace Ferrum.Generators.Emit.Kernels;

/// <summary>OpenCL C 1.2 spelling of the decode expressions: the block is a <c>const __global uchar*</c>.</summary>
internal sealed class OpenCLExprPrinter(string block, string element, string subBlock, string letPrefix)
    : CLikeExprPrinter(block, element, subBlock, letPrefix)
{
    public override string TypeName(ExprType type) => type == ExprType.Int ? "int" : "float";

    protected override string PrintLoad(LoadKind kind, string offset) => kind switch
    {
        LoadKind.U8 => $"((int){Block}[{offset}])",
        LoadKind.I8 => $"((int)(char){Block}[{offset}])",
        // vload_half is core OpenCL 1.2 (no cl_khr_fp16 needed) and only needs 2-byte alignment.
        LoadKind.F16 => $"vload_half(0, (const __global half*)({Block} + {offset}))",
        LoadKind.BF16 => $"as_float(((uint){Block}[{offset}] | ((uint){Block}[({offset}) + 1] << 8)) << 16)",
        _ => $"(*(const __global float*)({Block} + {offset}))",
    };

    protected override string FloatLiteral(FloatConst value) => value.Text + "f";

    protected override string BitsToFloat(string bits) => $"as_float((int)({bits}))";
}
