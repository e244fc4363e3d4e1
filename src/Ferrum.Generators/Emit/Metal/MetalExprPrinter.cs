using Ferrum.Generators.Emit.Kernels;

namespace Ferrum.Generators.Emit.Metal;

/// <summary>
/// Metal Shading Language spelling of the decode expressions: the block is a <c>device const uchar*</c>. Half loads
/// read through a <c>device const half*</c> (2-byte aligned, which every f16 field is relative to the block and
/// ggml rows guarantee); BF16 is assembled from two bytes because a bf16 field may sit at any even offset.
/// </summary>
internal sealed class MetalExprPrinter(string block, string element, string subBlock, string letPrefix)
    : CLikeExprPrinter(block, element, subBlock, letPrefix)
{
    public override string TypeName(ExprType type) => type == ExprType.Int ? "int" : "float";

    protected override string PrintLoad(LoadKind kind, string offset) => kind switch
    {
        LoadKind.U8 => $"((int){Block}[{offset}])",
        // MSL char is signed 8-bit.
        LoadKind.I8 => $"((int)(char){Block}[{offset}])",
        LoadKind.F16 => $"((float)*(device const half*)({Block} + {offset}))",
        LoadKind.BF16 => $"as_type<float>(((uint){Block}[{offset}] | ((uint){Block}[({offset}) + 1] << 8)) << 16)",
        _ => $"(*(device const float*)({Block} + {offset}))",
    };

    protected override string FloatLiteral(FloatConst value) => value.Text + "f";

    protected override string BitsToFloat(string bits) => $"as_type<float>((uint)({bits}))";
}
