using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Ferrum.GgmlReference;

/// <summary>
/// Locates ggml's native libraries from LLamaSharp.Backend.Cpu ($FERRUM_GGML_DIR, else the output folder, else the
/// NuGet global packages folder) and picks the build that matches the CPU (avx512, avx2, avx, noavx). All P/Invoke
/// declarations in this assembly resolve through it.
/// </summary>
public static class GgmlLibrary
{
    /// <summary>Logical library names used in DllImport/LibraryImport attributes.</summary>
    public const string Base = "ggml-base";

    /// <summary>ggml's CPU backend (graph compute, CPU type traits).</summary>
    public const string Cpu = "ggml-cpu";

    private static readonly object Gate = new();
    private static readonly Dictionary<string, IntPtr> Loaded = new();
    private static string? _folder;
    private static bool _registered;

    /// <summary>The folder the native libraries are loaded from, chosen by CPU features.</summary>
    /// <exception cref="DllNotFoundException">No native build was found; the message lists where it looked.</exception>
    public static string Folder => _folder ??= FindFolder();

    /// <summary>Which build was chosen: avx512, avx2, avx or noavx.</summary>
    public static string Variant => Path.GetFileName(Folder);

    /// <summary>True when the native libraries were found for this OS and architecture.</summary>
    public static bool IsAvailable
    {
        get
        {
            try
            {
                return File.Exists(Path.Combine(Folder, LibFile(Base)));
            }
            catch (DllNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>Registers the resolver; call once before the first P/Invoke (the module initializer does).</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered)
            {
                return;
            }

            NativeLibrary.SetDllImportResolver(typeof(GgmlLibrary).Assembly, Resolve);
            _registered = true;
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Base && name != Cpu)
        {
            return IntPtr.Zero;
        }

        lock (Gate)
        {
            if (Loaded.TryGetValue(name, out var h))
            {
                return h;
            }

            // ggml-cpu links against ggml-base by soname; load base first from the same folder.
            if (name == Cpu && !Loaded.ContainsKey(Base))
            {
                Loaded[Base] = NativeLibrary.Load(Path.Combine(Folder, LibFile(Base)));
            }

            h = NativeLibrary.Load(Path.Combine(Folder, LibFile(name)));
            Loaded[name] = h;
            return h;
        }
    }

    /// <summary>
    /// The address of an exported symbol of one of the two libraries (e.g. a C++-mangled one that no header
    /// declares), or null when the library does not export it.
    /// </summary>
    public static IntPtr TryGetExport(string library, string symbol)
    {
        if (library != Base && library != Cpu)
        {
            throw new ArgumentException($"ggml reference: unknown library '{library}'", nameof(library));
        }

        lock (Gate)
        {
            if (!Loaded.TryGetValue(library, out var h))
            {
                h = Resolve(library, typeof(GgmlLibrary).Assembly, null);
            }

            return NativeLibrary.TryGetExport(h, symbol, out var address) ? address : IntPtr.Zero;
        }
    }

    private static string LibFile(string name) =>
        OperatingSystem.IsWindows() ? name + ".dll" : OperatingSystem.IsMacOS() ? "lib" + name + ".dylib" : "lib" + name + ".so";

    /// <summary>NuGet package id and version of the native builds (LLamaSharp.Backend.Cpu, see Directory.Packages.props).</summary>
    public const string PackageFolder = "llamasharp.backend.cpu/0.30.0";

    /// <summary>Environment variable naming a folder that holds libggml-base and libggml-cpu directly.</summary>
    public const string DirectoryVariable = "FERRUM_GGML_DIR";

    // Search order: $FERRUM_GGML_DIR; the output folder (tests and benchmarks copy the natives there); the NuGet
    // global packages folder ($NUGET_PACKAGES or ~/.nuget/packages), so a tool that does not ship ggml can still
    // compare against it on a machine where the package was restored.
    private static string FindFolder()
    {
        var searched = new List<string>();
        var env = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrEmpty(env))
        {
            if (File.Exists(Path.Combine(env, LibFile(Base))))
            {
                return env;
            }

            searched.Add(env);
        }

        var rid = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        rid += RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "-x64",
            Architecture.Arm64 => "-arm64",
            var a => throw new DllNotFoundException($"ggml reference: no native build for {a}"),
        };
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages))
        {
            packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        }

        string[] roots =
        [
            Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native"),
            Path.Combine(packages, PackageFolder, "LLamaSharpRuntimes", rid, "native"),
        ];
        string[] variants = RuntimeInformation.ProcessArchitecture == Architecture.X64
            ? [.. new[] { Avx512F.IsSupported && Avx512BW.IsSupported ? "avx512" : "", Avx2.IsSupported ? "avx2" : "", Avx.IsSupported ? "avx" : "", "noavx" }.Where(v => v.Length > 0)]
            : [""];
        foreach (var native in roots)
        {
            foreach (var v in variants)
            {
                var dir = v.Length == 0 ? native : Path.Combine(native, v);
                if (File.Exists(Path.Combine(dir, LibFile(Base))))
                {
                    return dir;
                }
            }

            searched.Add(native);
        }

        throw new DllNotFoundException($"ggml reference: native libraries of LLamaSharp.Backend.Cpu not found (searched {string.Join(", ", searched)}; set {DirectoryVariable} to a folder with {LibFile(Base)} and {LibFile(Cpu)})");
    }
}

internal static class GgmlModuleInit
{
    // Tests and benchmarks call ggml directly, so the resolver must be in place before any P/Invoke.
#pragma warning disable CA2255
    [System.Runtime.CompilerServices.ModuleInitializer]
#pragma warning restore CA2255
    internal static void Init() => GgmlLibrary.Register();
}
