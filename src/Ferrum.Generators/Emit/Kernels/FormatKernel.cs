using System.Collections.Generic;
using Ferrum.Quantization;

namespace Ferrum.Generators.Emit.Kernels;

/// <summary>How often a value changes while a kernel walks a row: once per block, per sub-block, or per element.</summary>
internal enum DecodeScope
{
    Block = 0,
    SubBlock = 1,
    Element = 2,
}

/// <summary>
/// The one description of a weight format that every GPU printer reads. Element <c>i</c> of a block decodes to
/// <c>Scale * (float)Quant + Offset</c>, where Scale and Offset depend at most on the sub-block index (so a dot
/// product can use <c>Scale·Σq·x + Offset·Σx</c>) and Quant is the per-element integer (or float, for F16/BF16/F32).
/// This is the same float arithmetic as ggml's to_float for every format, so a printed scalar dequant matches it bit
/// for bit.
/// </summary>
internal sealed class FormatKernel
{
    public FormatKernel(GgmlType type, int subBlockElements, IReadOnlyList<Let> lets, Expr quant, Expr scale, Expr? offset)
    {
        Type = type;
        var info = GgmlTypeInfo.Get(type);
        BlockElements = info.BlockSize;
        BlockBytes = info.TypeSize;
        SubBlockElements = subBlockElements;
        Lets = lets;
        Quant = quant;
        Scale = scale;
        Offset = offset;
    }

    /// <summary>The ggml type.</summary>
    public GgmlType Type { get; }

    /// <summary>ggml's name, e.g. "q4_K"; printers derive identifiers from it.</summary>
    public string Name => GgmlTypeInfo.Get(Type).Name;

    /// <summary>Elements per block (ggml_blck_size).</summary>
    public int BlockElements { get; }

    /// <summary>Bytes per block (ggml_type_size).</summary>
    public int BlockBytes { get; }

    /// <summary>Elements sharing one Scale/Offset (16 or 32 for K-quants, the block for 32-element formats, 1 for floats).</summary>
    public int SubBlockElements { get; }

    /// <summary>Named intermediates in dependency order; each may reference only earlier lets.</summary>
    public IReadOnlyList<Let> Lets { get; }

    /// <summary>Per-element integer quant (int), or the element itself (float) for unquantized formats.</summary>
    public Expr Quant { get; }

    /// <summary>Float multiplier of Quant, at most sub-block scope.</summary>
    public Expr Scale { get; }

    /// <summary>Float added after scaling (Q4_1/Q5_1 m, K-quant -dmin·min); null when there is none.</summary>
    public Expr? Offset { get; }

    /// <summary>True when Scale is the literal 1 and there is no Offset (F16, BF16, F32): printers skip the scaling.</summary>
    public bool IsPlainFloat => Scale is FloatConst { Value: 1f } && Offset is null;

    /// <summary>Every table the description reads, each once, in first-use order.</summary>
    public IReadOnlyList<LookupTable> Tables
    {
        get
        {
            var found = new List<LookupTable>();
            foreach (var l in Lets)
            {
                CollectTables(l.Value, found);
            }

            CollectTables(Quant, found);
            CollectTables(Scale, found);
            if (Offset is not null)
            {
                CollectTables(Offset, found);
            }

            return found;
        }
    }

    /// <summary>True when any part of the description reads <paramref name="var"/> (printers declare only what is used).</summary>
    public bool Uses(IndexVar var)
    {
        foreach (var l in Lets)
        {
            if (Reads(l.Value, var))
            {
                return true;
            }
        }

        return Reads(Quant, var) || Reads(Scale, var) || (Offset is not null && Reads(Offset, var));
    }

    private static bool Reads(Expr e, IndexVar var) => e switch
    {
        Index ix => ix.Var == var,
        Load l => Reads(l.Offset, var),
        Binary b => Reads(b.Left, var) || Reads(b.Right, var),
        Negate n => Reads(n.Operand, var),
        ToFloat f => Reads(f.Operand, var),
        BitsToFloat f => Reads(f.Bits, var),
        Select s => Reads(s.Condition, var) || Reads(s.WhenTrue, var) || Reads(s.WhenFalse, var),
        TableLookup t => Reads(t.Index, var),
        _ => false,
    };

    /// <summary>The innermost scope an expression depends on.</summary>
    public static DecodeScope ScopeOf(Expr e) => e switch
    {
        Index { Var: IndexVar.Element } => DecodeScope.Element,
        Index => DecodeScope.SubBlock,
        LetRef r => ScopeOf(r.Let.Value),
        Load l => ScopeOf(l.Offset),
        Binary b => Max(ScopeOf(b.Left), ScopeOf(b.Right)),
        Negate n => ScopeOf(n.Operand),
        ToFloat f => ScopeOf(f.Operand),
        BitsToFloat f => ScopeOf(f.Bits),
        Select s => Max(ScopeOf(s.Condition), Max(ScopeOf(s.WhenTrue), ScopeOf(s.WhenFalse))),
        TableLookup t => ScopeOf(t.Index),
        _ => DecodeScope.Block,
    };

    /// <summary>Lets of exactly one scope, in order (a printer emits Block, then SubBlock, then Element lets).</summary>
    public IEnumerable<Let> LetsIn(DecodeScope scope)
    {
        foreach (var l in Lets)
        {
            if (ScopeOf(l.Value) == scope)
            {
                yield return l;
            }
        }
    }

    private static DecodeScope Max(DecodeScope a, DecodeScope b) => a > b ? a : b;

    private static void CollectTables(Expr e, List<LookupTable> found)
    {
        switch (e)
        {
            case TableLookup t:
                if (!found.Contains(t.Table))
                {
                    found.Add(t.Table);
                }

                CollectTables(t.Index, found);
                break;
            case Load l:
                CollectTables(l.Offset, found);
                break;
            case Binary b:
                CollectTables(b.Left, found);
                CollectTables(b.Right, found);
                break;
            case Negate n:
                CollectTables(n.Operand, found);
                break;
            case ToFloat f:
                CollectTables(f.Operand, found);
                break;
            case BitsToFloat f:
                CollectTables(f.Bits, found);
                break;
            case Select s:
                CollectTables(s.Condition, found);
                CollectTables(s.WhenTrue, found);
                CollectTables(s.WhenFalse, found);
                break;
        }
    }
}
