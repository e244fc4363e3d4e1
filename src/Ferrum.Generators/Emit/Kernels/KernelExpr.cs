using System;
using System.Collections.Generic;
using System.Globalization;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>Value type of a kernel expression: 32-bit signed integer or 32-bit float.</summary>
internal enum ExprType
{
    Int,
    Float,
}

/// <summary>What a load reads from the block's bytes (little-endian, no alignment beyond the natural one of the field).</summary>
internal enum LoadKind
{
    /// <summary>Unsigned byte, zero-extended to int.</summary>
    U8,

    /// <summary>Signed byte, sign-extended to int.</summary>
    I8,

    /// <summary>IEEE fp16 at a 2-aligned offset, converted to float.</summary>
    F16,

    /// <summary>bfloat16 (top half of an fp32) at a 2-aligned offset, converted to float.</summary>
    BF16,

    /// <summary>IEEE fp32 at a 4-aligned offset.</summary>
    F32,
}

/// <summary>Binary operators. Arithmetic works on both types (operands have the same type); the rest on ints.</summary>
internal enum BinaryOp
{
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    And,
    Or,
    Lt,
    Ge,
    Eq,
    Ne,
}

/// <summary>
/// A node of the small expression model that describes how one element of a quantized block decodes. Printers
/// (C#, OpenCL C, MSL) walk it; it has no behaviour of its own besides its type.
/// </summary>
internal abstract class Expr
{
    public abstract ExprType Type { get; }

    public static implicit operator Expr(int value) => new IntConst(value);

    public static Expr operator +(Expr a, Expr b) => new Binary(BinaryOp.Add, a, b);

    public static Expr operator -(Expr a, Expr b) => new Binary(BinaryOp.Sub, a, b);

    public static Expr operator *(Expr a, Expr b) => new Binary(BinaryOp.Mul, a, b);

    public static Expr operator /(Expr a, Expr b) => new Binary(BinaryOp.Div, a, b);

    public static Expr operator %(Expr a, Expr b) => new Binary(BinaryOp.Rem, a, b);

    public static Expr operator <<(Expr a, int b) => new Binary(BinaryOp.Shl, a, b);

    public static Expr operator >>(Expr a, int b) => new Binary(BinaryOp.Shr, a, b);

    public static Expr operator &(Expr a, Expr b) => new Binary(BinaryOp.And, a, b);

    public static Expr operator |(Expr a, Expr b) => new Binary(BinaryOp.Or, a, b);

    public static Expr operator -(Expr a) => new Negate(a);
}

/// <summary>An int literal.</summary>
internal sealed class IntConst(int value) : Expr
{
    public int Value { get; } = value;

    public override ExprType Type => ExprType.Int;
}

/// <summary>A float literal.</summary>
internal sealed class FloatConst(float value) : Expr
{
    public float Value { get; } = value;

    public override ExprType Type => ExprType.Float;

    /// <summary>Shortest round-trip text with a decimal point and no suffix ("1.0", "0.5", "1E-05" becomes "1E-05").</summary>
    public string Text
    {
        get
        {
            var s = Value.ToString("R", CultureInfo.InvariantCulture);
            return s.IndexOf('.') >= 0 || s.IndexOf('E') >= 0 ? s : s + ".0";
        }
    }
}

/// <summary>The two index variables a decode sees.</summary>
internal enum IndexVar
{
    /// <summary>Index of the element inside its block, 0 .. BlockElements-1.</summary>
    Element,

    /// <summary>Index of the sub-block (the elements sharing one scale and offset): Element / SubBlockElements.</summary>
    SubBlock,
}

/// <summary>Reads an index variable.</summary>
internal sealed class Index(IndexVar var) : Expr
{
    public IndexVar Var { get; } = var;

    public override ExprType Type => ExprType.Int;
}

/// <summary>Reads a named value bound earlier in <see cref="FormatKernel.Lets"/>.</summary>
internal sealed class LetRef(Let let) : Expr
{
    public Let Let { get; } = let;

    public override ExprType Type => Let.Value.Type;
}

/// <summary>Loads a field of the block at a byte offset (an int expression) from the block's first byte.</summary>
internal sealed class Load(LoadKind kind, Expr offset) : Expr
{
    public LoadKind Kind { get; } = kind;

    public Expr Offset { get; } = offset;

    public override ExprType Type => Kind is LoadKind.U8 or LoadKind.I8 ? ExprType.Int : ExprType.Float;
}

/// <summary>A binary operation. Comparisons give int 0/1.</summary>
internal sealed class Binary : Expr
{
    public Binary(BinaryOp op, Expr left, Expr right)
    {
        if (left.Type != right.Type)
        {
            throw new ArgumentException($"operands of {op} have different types ({left.Type}, {right.Type})");
        }

        if (left.Type == ExprType.Float && op is not (BinaryOp.Add or BinaryOp.Sub or BinaryOp.Mul or BinaryOp.Div))
        {
            throw new ArgumentException($"{op} needs int operands");
        }

        Op = op;
        Left = left;
        Right = right;
    }

    public BinaryOp Op { get; }

    public Expr Left { get; }

    public Expr Right { get; }

    public override ExprType Type => Op is BinaryOp.Lt or BinaryOp.Ge or BinaryOp.Eq or BinaryOp.Ne ? ExprType.Int : Left.Type;
}

/// <summary>Arithmetic negation.</summary>
internal sealed class Negate(Expr operand) : Expr
{
    public Expr Operand { get; } = operand;

    public override ExprType Type => Operand.Type;
}

/// <summary>int to float conversion (exact for the small integers quant formats use).</summary>
internal sealed class ToFloat(Expr operand) : Expr
{
    public Expr Operand { get; } = operand.Type == ExprType.Int ? operand : throw new ArgumentException("ToFloat needs an int");

    public override ExprType Type => ExprType.Float;
}

/// <summary>Reinterprets the 32 bits of an int as an IEEE float (as_float, BitConverter.Int32BitsToSingle).</summary>
internal sealed class BitsToFloat(Expr bits) : Expr
{
    public Expr Bits { get; } = bits.Type == ExprType.Int ? bits : throw new ArgumentException("BitsToFloat needs an int");

    public override ExprType Type => ExprType.Float;
}

/// <summary>cond != 0 ? whenTrue : whenFalse.</summary>
internal sealed class Select : Expr
{
    public Select(Expr condition, Expr whenTrue, Expr whenFalse)
    {
        if (condition.Type != ExprType.Int || whenTrue.Type != whenFalse.Type)
        {
            throw new ArgumentException("Select needs an int condition and two branches of one type");
        }

        Condition = condition;
        WhenTrue = whenTrue;
        WhenFalse = whenFalse;
    }

    public Expr Condition { get; }

    public Expr WhenTrue { get; }

    public Expr WhenFalse { get; }

    public override ExprType Type => WhenTrue.Type;
}

/// <summary>A constant int table (printed once per program as a constant array).</summary>
internal sealed class LookupTable(string name, IReadOnlyList<int> values)
{
    /// <summary>Identifier the printers use for the array, e.g. "kvalues_iq4nl".</summary>
    public string Name { get; } = name;

    public IReadOnlyList<int> Values { get; } = values;
}

/// <summary>Reads table[index].</summary>
internal sealed class TableLookup(LookupTable table, Expr index) : Expr
{
    public LookupTable Table { get; } = table;

    public Expr Index { get; } = index;

    public override ExprType Type => ExprType.Int;
}

/// <summary>A named intermediate value. Printers emit it as a local, hoisted to the scope it depends on.</summary>
internal sealed class Let(string name, Expr value)
{
    public string Name { get; } = name;

    public Expr Value { get; } = value;
}
