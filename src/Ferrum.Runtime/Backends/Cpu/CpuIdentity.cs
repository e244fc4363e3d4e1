using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace Ferrum.Backends.Cpu;

/// <summary>
/// What a kernel decision is valid for: the CPU model, the instruction sets .NET reports on it, and the Ferrum
/// version whose kernels were measured. A cached decision made under any other identity is ignored.
/// </summary>
/// <param name="Cpu">The CPU's vendor/model string (CPUID brand string, else /proc/cpuinfo "model name", else the architecture).</param>
/// <param name="Isa">The instruction sets the kernels may use, comma-separated (e.g. "avx2,fma,vector128").</param>
/// <param name="Version">The Ferrum runtime's version.</param>
public sealed record CpuIdentity(string Cpu, string Isa, string Version)
{
    /// <summary>This machine and this build of Ferrum.</summary>
    public static CpuIdentity Current { get; } = new(Brand(), Flags(), VersionOf(typeof(CpuIdentity).Assembly));

    /// <inheritdoc />
    public override string ToString() => $"{Cpu} [{Isa}] Ferrum {Version}";

    private static string Brand()
    {
        if (X86Base.IsSupported)
        {
            var (max, _, _, _) = X86Base.CpuId(unchecked((int)0x80000000), 0);
            if ((uint)max >= 0x80000004)
            {
                var sb = new StringBuilder(48);
                for (uint leaf = 0x80000002; leaf <= 0x80000004; leaf++)
                {
                    var (a, b, c, d) = X86Base.CpuId(unchecked((int)leaf), 0);
                    foreach (int r in (ReadOnlySpan<int>)[a, b, c, d])
                    {
                        for (int i = 0; i < 4; i++)
                        {
                            char ch = (char)((r >> (8 * i)) & 0xFF);
                            if (ch != '\0')
                            {
                                sb.Append(ch);
                            }
                        }
                    }
                }

                var s = sb.ToString().Trim();
                if (s.Length > 0)
                {
                    return s;
                }
            }
        }

        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is > 0 and var i)
                    {
                        return line[(i + 1)..].Trim();
                    }
                }
            }
        }
        catch (IOException)
        {
            // Unreadable cpuinfo: the architecture below still keys the cache (together with the ISA flags).
        }
        catch (UnauthorizedAccessException)
        {
        }

        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static string Flags()
    {
        var flags = new List<string>();
        void Add(bool on, string name)
        {
            if (on)
            {
                flags.Add(name);
            }
        }

        Add(Avx512F.IsSupported, "avx512f");
        Add(Avx512BW.IsSupported, "avx512bw");
        Add(Vector512.IsHardwareAccelerated, "vector512");
        Add(AvxVnni.IsSupported, "avxvnni");
        Add(Avx2.IsSupported, "avx2");
        Add(Fma.IsSupported, "fma");
        Add(Vector128.IsHardwareAccelerated, "vector128");
        Add(System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported, "advsimd");
        return flags.Count == 0 ? "none" : string.Join(',', flags);
    }

    private static string VersionOf(Assembly a) =>
        a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? a.GetName().Version?.ToString()
        ?? "unknown";
}
