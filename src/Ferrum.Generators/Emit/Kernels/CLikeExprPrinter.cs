using System;
using System.Globalization;
using System.Text;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>
/// Prints <see cref="Expr"/> trees as C-family source (C#, OpenCL C, MSL). Subclasses supply what differs per
/// target: loads from the block, float literals, bit casts, int-to-float conversion. Everything is fully
/// parenthesized, so precedence never depends on the target.
/// </summary>
internal abstract class CLikeExprPrinter
{
    /// <param name="block">Expression naming the block's first byte (a byte pointer in the target).</param>
    /// <param name="element">Name of the element-in-block index variable.</param>
    /// <param name="subBlock">Name of the sub-block index variable.</param>
    /// <param name="letPrefix">Prefix of let names, so two decodes can share one scope (gate and up).</param>
    protected CLikeExprPrinter(string block, string element, string subBlock, string letPrefix)
    {
        Block = block;
        Element = element;
        SubBlock = subBlock;
        LetPrefix = letPrefix;
    }

    public string Block { get; }

    public string Element { get; }

    public string SubBlock { get; }

    public string LetPrefix { get; }

    /// <summary>Target spelling of the int and float types of let declarations.</summary>
    public abstract string TypeName(ExprType type);

    /// <summary>Qualifier in front of let declarations ("const " in C, nothing in C#).</summary>
    protected virtual string LetQualifier => "const ";

    /// <summary>Local name of a let.</summary>
    public string LetName(Let let) => LetPrefix + let.Name;

    /// <summary>Declarations of the lets of one scope, one statement per line, each ending with a newline.</summary>
    public string PrintLets(FormatKernel format, DecodeScope scope, string indent)
    {
        var sb = new StringBuilder();
        foreach (var l in format.LetsIn(scope))
        {
            sb.Append(indent).Append(LetQualifier).Append(TypeName(l.Value.Type)).Append(' ').Append(LetName(l))
                .Append(" = ").Append(Print(l.Value)).Append(";\n");
        }

        return sb.ToString();
    }

    /// <summary>Quant as a float expression (converted when it is an int).</summary>
    public string PrintQuantAsFloat(FormatKernel format) =>
        format.Quant.Type == ExprType.Float ? Print(format.Quant) : IntToFloat(Print(format.Quant));

    /// <summary>The full element value <c>Scale * Quant + Offset</c> (just Quant for plain floats).</summary>
    public string PrintValue(FormatKernel format)
    {
        var q = PrintQuantAsFloat(format);
        if (format.IsPlainFloat)
        {
            return q;
        }

        var v = $"({Print(format.Scale)} * {q})";
        return format.Offset is null ? v : $"({v} + {Print(format.Offset)})";
    }

    public string Print(Expr e) => e switch
    {
        IntConst c => c.Value < 0 ? $"({c.Value.ToString(CultureInfo.InvariantCulture)})" : c.Value.ToString(CultureInfo.InvariantCulture),
        FloatConst f => FloatLiteral(f),
        Index ix => ix.Var == IndexVar.Element ? Element : SubBlock,
        LetRef r => LetName(r.Let),
        Load l => PrintLoad(l.Kind, Print(l.Offset)),
        Binary b => PrintBinary(b),
        Negate n => $"(-{Print(n.Operand)})",
        ToFloat f => IntToFloat(Print(f.Operand)),
        BitsToFloat b => BitsToFloat(Print(b.Bits)),
        Select s => $"(({Print(s.Condition)}) != 0 ? {Print(s.WhenTrue)} : {Print(s.WhenFalse)})",
        TableLookup t => $"{TableName(t.Table)}[{Print(t.Index)}]",
        _ => throw new NotSupportedException($"expression node {e.GetType().Name}"),
    };

    /// <summary>A load of <paramref name="kind"/> at byte offset <paramref name="offset"/> from <see cref="Block"/>.</summary>
    protected abstract string PrintLoad(LoadKind kind, string offset);

    protected abstract string FloatLiteral(FloatConst value);

    protected abstract string BitsToFloat(string bits);

    protected virtual string IntToFloat(string value) => $"((float){value})";

    protected virtual string TableName(LookupTable table) => table.Name;

    /// <summary>Comparison yielding int 0/1 (C and MSL convert bool to int; C# prints a conditional).</summary>
    protected virtual string Compare(string op, string left, string right) => $"(({left}) {op} ({right}))";

    private string PrintBinary(Binary b)
    {
        var l = Print(b.Left);
        var r = Print(b.Right);
        return b.Op switch
        {
            BinaryOp.Add => $"({l} + {r})",
            BinaryOp.Sub => $"({l} - {r})",
            BinaryOp.Mul => $"({l} * {r})",
            BinaryOp.Div => $"({l} / {r})",
            BinaryOp.Rem => $"({l} % {r})",
            BinaryOp.Shl => $"({l} << {r})",
            BinaryOp.Shr => $"({l} >> {r})",
            BinaryOp.And => $"({l} & {r})",
            BinaryOp.Or => $"({l} | {r})",
            BinaryOp.Lt => Compare("<", l, r),
            BinaryOp.Ge => Compare(">=", l, r),
            BinaryOp.Eq => Compare("==", l, r),
            BinaryOp.Ne => Compare("!=", l, r),
            _ => throw new NotSupportedException($"operator {b.Op}"),
        };
    }
}
