using Microsoft.CodeAnalysis;

namespace Ferrum.Generators.Diagnostics;

/// <summary>Every diagnostic the generator reports. Ids are listed in AnalyzerReleases.Shipped.md and docs/kernels-yaml.md.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Ferrum.Manifest";
    private const string HelpLink = "docs/kernels-yaml.md";

    public static readonly DiagnosticDescriptor YamlSyntaxError = Error(
        "FER0001", "kernels.yaml is not valid YAML", "Invalid YAML in kernels.yaml: {0}");

    public static readonly DiagnosticDescriptor UnknownKey = new(
        "FER0002", "Unknown key in kernels.yaml", "Unknown key '{0}' in {1}; expected one of: {2}",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: HelpLink);

    public static readonly DiagnosticDescriptor MissingKey = Error(
        "FER0003", "Missing required key in kernels.yaml", "{0} is missing the required key '{1}'");

    public static readonly DiagnosticDescriptor UnknownFormat = Error(
        "FER0004", "Unknown quantization format", "Unknown format '{0}'{1}; supported formats: {2}");

    public static readonly DiagnosticDescriptor UnknownTarget = Error(
        "FER0005", "Unknown kernel target", "Unknown target '{0}'; supported targets: cpu, opencl, metal");

    public static readonly DiagnosticDescriptor UnknownArch = Error(
        "FER0006", "Unknown model architecture", "Unknown arch '{0}' for model '{1}'; supported: {2}");

    public static readonly DiagnosticDescriptor RowLengthNotBlockMultiple = Error(
        "FER0007", "Row length is not a multiple of the format's block size",
        "Model '{0}': {1} rows are {2} long ({3}), which is not a multiple of the {4} block size {5}");

    public static readonly DiagnosticDescriptor TopKOutOfRange = Error(
        "FER0008", "top_k out of range", "Model '{0}': top_k is {1}, but it must be between 1 and experts ({2})");

    public static readonly DiagnosticDescriptor DuplicateModel = Error(
        "FER0009", "Duplicate model name", "Model '{0}' is declared more than once (C# type {1}){2}");

    public static readonly DiagnosticDescriptor InvalidIdentifier = Error(
        "FER0010", "Model name cannot become a C# identifier",
        "Model name '{0}' becomes '{1}', which is not a valid C# identifier; start it with a letter and use letters, digits, '-', '_' or '.'");

    public static readonly DiagnosticDescriptor EmptyManifest = new(
        "FER0011", "Empty kernels.yaml", "kernels.yaml declares no models and no formats; nothing is generated",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true, helpLinkUri: HelpLink);

    public static readonly DiagnosticDescriptor InvalidValue = Error(
        "FER0012", "Invalid value in kernels.yaml", "'{0}' must be {1}, but is {2}");

    public static readonly DiagnosticDescriptor UnsafeCodeDisabled = Error(
        "FER0013", "CPU kernels need unsafe code",
        "kernels.yaml asks for CPU kernels, which take pointers, but the project sets AllowUnsafeBlocks to false; allow unsafe code or remove 'cpu' from targets (no CPU kernels were generated)");

    public static readonly DiagnosticDescriptor InternalError = Error(
        "FER0099", "Ferrum generator internal error",
        "The Ferrum generator failed unexpectedly ({0}); please report this with the manifest that caused it");

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpLink);
}
