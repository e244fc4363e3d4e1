using System;
using System.Collections.Generic;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;

namespace Ferrum.Generators.Manifest;

/// <summary>Model names to C# type names: "qwen3-30b-a3b" becomes "Qwen3_30B_A3B".</summary>
internal static class TypeNames
{
    // Members of the generated model type: a model type with one of these names would not compile (CS0542).
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "Name", "Arch", "Hidden", "ExpertFfn", "Experts", "TopK", "Batches", "GateFormats", "UpFormats",
        "DownFormats", "Layer", "LoadLayer",
    };

    /// <summary>Splits on '-', '_', '.' and spaces, upper-cases each part's first letter and every letter after a digit, joins with '_'.</summary>
    public static string ToTypeName(string name)
    {
        var parts = name.Split(new[] { '-', '_', '.', ' ' }, StringSplitOptions.RemoveEmptyEntries);
        var result = new StringBuilder();
        foreach (var part in parts)
        {
            if (result.Length > 0)
            {
                result.Append('_');
            }

            for (var i = 0; i < part.Length; i++)
            {
                var c = part[i];
                result.Append(i == 0 || char.IsDigit(part[i - 1]) ? char.ToUpperInvariant(c) : c);
            }
        }

        return result.ToString();
    }

    /// <summary>True when <paramref name="typeName"/> is a plain (non-keyword, non-reserved, ASCII) C# identifier.</summary>
    public static bool IsValidTypeName(string typeName)
    {
        if (typeName.Length == 0 || typeName.Length > 200 || Reserved.Contains(typeName))
        {
            return false;
        }

        foreach (var c in typeName)
        {
            if (c > 127)
            {
                return false;
            }
        }

        return SyntaxFacts.IsValidIdentifier(typeName)
            && SyntaxFacts.GetKeywordKind(typeName) == SyntaxKind.None
            && SyntaxFacts.GetContextualKeywordKind(typeName) == SyntaxKind.None;
    }
}
