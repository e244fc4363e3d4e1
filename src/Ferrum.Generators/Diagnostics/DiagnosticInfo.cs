using System;
using System.Linq;
using Ferrum.Generators.Helpers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Ferrum.Generators.Diagnostics;

/// <summary>
/// A diagnostic as plain, equatable data (no Location or SyntaxTree, so pipeline steps can cache it): the manifest
/// path, the span and line/column span of the offending YAML node, and the message arguments as strings.
/// </summary>
internal sealed record DiagnosticInfo(
    DiagnosticDescriptor Descriptor,
    string Path,
    TextSpan Span,
    LinePositionSpan LineSpan,
    EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, string path, TextSpan span, LinePositionSpan lineSpan, params object?[] args) =>
        new(descriptor, path, span, lineSpan, args.Select(a => a?.ToString() ?? string.Empty).ToEquatableArray());

    /// <summary>A diagnostic at the very start of the file (no better position exists, e.g. an empty file).</summary>
    public static DiagnosticInfo AtFileStart(DiagnosticDescriptor descriptor, string path, params object?[] args) =>
        Create(descriptor, path, default, default, args);

    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(Descriptor, Location.Create(Path, Span, LineSpan), Arguments.Select(a => (object)a).ToArray());
}

/// <summary>Reporting helpers.</summary>
internal static class DiagnosticInfoExtensions
{
    public static void Report(this SourceProductionContext context, EquatableArray<DiagnosticInfo> diagnostics)
    {
        foreach (var d in diagnostics)
        {
            context.ReportDiagnostic(d.ToDiagnostic());
        }
    }

    /// <summary>Last resort: an exception in an output callback becomes FER0099 instead of CS8785.</summary>
    public static void ReportInternalError(this SourceProductionContext context, Exception e, string path) =>
        context.ReportDiagnostic(Diagnostic.Create(
            DiagnosticDescriptors.InternalError,
            Location.Create(path, default, default),
            $"{e.GetType().Name}: {e.Message}"));
}
