using System;
using System.Collections.Generic;
using System.IO;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Ferrum.Generators.Manifest;

/// <summary>A YAML node with its source span (YamlDotNet marks: 1-based line/column, 0-based index).</summary>
internal abstract class YamlTreeNode
{
    protected YamlTreeNode(Mark start, Mark end)
    {
        Start = start;
        End = end;
    }

    public Mark Start { get; }

    public Mark End { get; set; }
}

internal sealed class YamlTreeScalar : YamlTreeNode
{
    public YamlTreeScalar(Scalar scalar)
        : base(scalar.Start, scalar.End)
    {
        Value = scalar.Value;
        IsPlain = scalar.Style == ScalarStyle.Plain;
    }

    public string Value { get; }

    /// <summary>Unquoted: only then do "", "~" and "null" mean null.</summary>
    public bool IsPlain { get; }

    public bool IsNull => IsPlain && (Value.Length == 0 || Value == "~" || Value == "null" || Value == "Null" || Value == "NULL");
}

internal sealed class YamlTreeSequence : YamlTreeNode
{
    public YamlTreeSequence(Mark start)
        : base(start, start)
    {
    }

    public List<YamlTreeNode> Items { get; } = new();
}

internal sealed class YamlTreeMapping : YamlTreeNode
{
    public YamlTreeMapping(Mark start)
        : base(start, start)
    {
    }

    public List<KeyValuePair<YamlTreeNode, YamlTreeNode>> Pairs { get; } = new();
}

/// <summary>An alias (*name); kernels.yaml has no use for anchors, so aliases are reported as invalid values.</summary>
internal sealed class YamlTreeAlias : YamlTreeNode
{
    public YamlTreeAlias(AnchorAlias alias)
        : base(alias.Start, alias.End)
    {
    }
}

/// <summary>
/// Builds a node tree from YamlDotNet's event parser without recursion and with a depth limit, so a hostile
/// manifest ("[[[[..." thousands deep) becomes a diagnostic instead of a stack overflow in the compiler.
/// Duplicate keys are YAML errors, as in YamlDotNet's own representation model.
/// </summary>
internal static class YamlTree
{
    public const int MaxDepth = 64;

    /// <summary>The root node of every document in <paramref name="text"/>; throws <see cref="YamlException"/> on invalid YAML.</summary>
    public static List<YamlTreeNode> Load(string text)
    {
        var documents = new List<YamlTreeNode>();
        var stack = new Stack<Frame>();
        var parser = new Parser(new StringReader(text));
        var last = Mark.Empty;
        while (MoveNext())
        {
            last = parser.Current!.End;
            switch (parser.Current)
            {
                case Scalar scalar:
                    Add(new YamlTreeScalar(scalar));
                    break;
                case AnchorAlias alias:
                    Add(new YamlTreeAlias(alias));
                    break;
                case SequenceStart start:
                    Open(new YamlTreeSequence(start.Start));
                    break;
                case MappingStart start:
                    Open(new YamlTreeMapping(start.Start));
                    break;
                case SequenceEnd end:
                    stack.Pop().Node.End = end.End;
                    break;
                case MappingEnd end:
                    stack.Pop().Node.End = end.End;
                    break;
            }
        }

        return documents;

        // YamlDotNet's scanner throws other exceptions than YamlException on some malformed input (e.g. an
        // InvalidOperationException inside an unclosed flow sequence); all of them are YAML errors to the user.
        bool MoveNext()
        {
            try
            {
                return parser.MoveNext();
            }
            catch (Exception e) when (e is not YamlException)
            {
                throw new YamlException(last, last, $"malformed YAML after this point ({e.GetType().Name})");
            }
        }

        void Open(YamlTreeNode node)
        {
            if (stack.Count >= MaxDepth)
            {
                throw new YamlException(node.Start, node.Start, $"nesting deeper than {MaxDepth} levels");
            }

            Add(node);
            stack.Push(new Frame(node));
        }

        void Add(YamlTreeNode node)
        {
            if (stack.Count == 0)
            {
                documents.Add(node);
                return;
            }

            var frame = stack.Peek();
            if (frame.Node is YamlTreeSequence sequence)
            {
                sequence.Items.Add(node);
                return;
            }

            var mapping = (YamlTreeMapping)frame.Node;
            if (frame.PendingKey is null)
            {
                frame.PendingKey = node;
                return;
            }

            if (frame.PendingKey is YamlTreeScalar key)
            {
                foreach (var pair in mapping.Pairs)
                {
                    if (pair.Key is YamlTreeScalar other && other.Value == key.Value)
                    {
                        throw new YamlException(key.Start, key.End, $"Duplicate key {key.Value}");
                    }
                }
            }

            mapping.Pairs.Add(new KeyValuePair<YamlTreeNode, YamlTreeNode>(frame.PendingKey, node));
            frame.PendingKey = null;
        }
    }

    private sealed class Frame
    {
        public Frame(YamlTreeNode node)
        {
            Node = node;
        }

        public YamlTreeNode Node { get; }

        public YamlTreeNode? PendingKey { get; set; }
    }
}
