using System.Text;
using Silk.NET.OpenCL;

namespace Ferrum.Backends.OpenCL;

/// <summary>One OpenCL device as the ICD loader reports it.</summary>
public sealed class OpenCLDevice
{
    /// <summary>Environment variable naming the device: an index into <see cref="All"/> or a name substring.</summary>
    public const string EnvironmentVariable = "FERRUM_OPENCL_DEVICE";

    private const uint CL_DEVICE_TYPE = 0x1000;
    private const uint CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002;
    private const uint CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004;
    private const uint CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F;
    private const uint CL_DEVICE_LOCAL_MEM_SIZE = 0x1023;
    private const uint CL_DEVICE_NAME = 0x102B;
    private const uint CL_DEVICE_VENDOR = 0x102C;
    private const uint CL_DRIVER_VERSION = 0x102D;
    private const uint CL_DEVICE_VERSION = 0x102F;
    private const uint CL_DEVICE_EXTENSIONS = 0x1030;
    private const uint CL_PLATFORM_VERSION = 0x0901;
    private const uint CL_PLATFORM_NAME = 0x0902;
    private const ulong CL_DEVICE_TYPE_CPU = 1 << 1;
    private const ulong CL_DEVICE_TYPE_GPU = 1 << 2;

    private OpenCLDevice(int index, nint platform, nint handle)
    {
        Index = index;
        Platform = platform;
        Handle = handle;
        PlatformName = PlatformString(platform, CL_PLATFORM_NAME);
        PlatformVersion = PlatformString(platform, CL_PLATFORM_VERSION);
        Name = DeviceString(handle, CL_DEVICE_NAME);
        Vendor = DeviceString(handle, CL_DEVICE_VENDOR);
        DriverVersion = DeviceString(handle, CL_DRIVER_VERSION);
        Version = DeviceString(handle, CL_DEVICE_VERSION);
        Extensions = DeviceString(handle, CL_DEVICE_EXTENSIONS).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var type = DeviceValue<ulong>(handle, CL_DEVICE_TYPE);
        IsCpu = (type & CL_DEVICE_TYPE_CPU) != 0;
        IsGpu = (type & CL_DEVICE_TYPE_GPU) != 0;
        ComputeUnits = (int)DeviceValue<uint>(handle, CL_DEVICE_MAX_COMPUTE_UNITS);
        MaxWorkGroupSize = (long)DeviceValue<nuint>(handle, CL_DEVICE_MAX_WORK_GROUP_SIZE);
        GlobalMemorySize = (long)DeviceValue<ulong>(handle, CL_DEVICE_GLOBAL_MEM_SIZE);
        LocalMemorySize = (long)DeviceValue<ulong>(handle, CL_DEVICE_LOCAL_MEM_SIZE);
    }

    /// <summary>Position in <see cref="All"/> (platform order, then device order).</summary>
    public int Index { get; }

    internal nint Platform { get; }

    internal nint Handle { get; }

    public string PlatformName { get; }

    public string PlatformVersion { get; }

    public string Name { get; }

    public string Vendor { get; }

    public string DriverVersion { get; }

    /// <summary>CL_DEVICE_VERSION, e.g. "OpenCL 3.0 PoCL ...".</summary>
    public string Version { get; }

    public IReadOnlyList<string> Extensions { get; }

    /// <summary>A CPU device: buffers wrap host memory (CL_MEM_USE_HOST_PTR) instead of copying.</summary>
    public bool IsCpu { get; }

    public bool IsGpu { get; }

    public int ComputeUnits { get; }

    public long MaxWorkGroupSize { get; }

    public long GlobalMemorySize { get; }

    public long LocalMemorySize { get; }

    /// <summary>True when the device reports cl_khr_subgroups or cl_intel_subgroups.</summary>
    public bool HasSubgroups => Extensions.Contains("cl_khr_subgroups") || Extensions.Contains("cl_intel_subgroups");

    /// <summary>"platform / device" as listed and matched by name selectors.</summary>
    public string DisplayName => $"{PlatformName} / {Name}";

    public override string ToString() => $"[{Index}] {DisplayName} ({(IsGpu ? "GPU" : IsCpu ? "CPU" : "other")}, {Version})";

    /// <summary>Every device of every platform; empty when there is no OpenCL platform. Throws when the loader is missing.</summary>
    public static unsafe IReadOnlyList<OpenCLDevice> All()
    {
        var cl = OpenCLApi.Instance;
        uint platformCount = 0;
        var err = cl.GetPlatformIDs(0, null, &platformCount);
        if (err == -1001 || platformCount == 0)
        {
            return Array.Empty<OpenCLDevice>();
        }

        OpenCLErrors.Check(err, "clGetPlatformIDs");
        var platforms = new nint[platformCount];
        fixed (nint* p = platforms)
        {
            OpenCLErrors.Check(cl.GetPlatformIDs(platformCount, p, null), "clGetPlatformIDs");
        }

        var devices = new List<OpenCLDevice>();
        foreach (var platform in platforms)
        {
            uint count = 0;
            err = cl.GetDeviceIDs(platform, (DeviceType)0xFFFFFFFF, 0, null, &count);
            if (err == -1 || count == 0)
            {
                continue;
            }

            OpenCLErrors.Check(err, "clGetDeviceIDs");
            var ids = new nint[count];
            fixed (nint* d = ids)
            {
                OpenCLErrors.Check(cl.GetDeviceIDs(platform, (DeviceType)0xFFFFFFFF, count, d, null), "clGetDeviceIDs");
            }

            foreach (var id in ids)
            {
                devices.Add(new OpenCLDevice(devices.Count, platform, id));
            }
        }

        return devices;
    }

    /// <summary>
    /// Picks a device. <paramref name="selector"/> (or, when null or empty, the FERRUM_OPENCL_DEVICE environment
    /// variable) is an index into <see cref="All"/> or a case-insensitive substring of "platform / device". Without a
    /// selector the first GPU is taken, else the first device. Throws <see cref="OpenCLException"/> listing the devices
    /// when nothing matches, and naming the packages to install when there is no device at all.
    /// </summary>
    public static OpenCLDevice Select(string? selector = null)
    {
        if (string.IsNullOrWhiteSpace(selector))
        {
            selector = Environment.GetEnvironmentVariable(EnvironmentVariable);
        }

        var all = All();
        if (all.Count == 0)
        {
            throw new OpenCLException("no OpenCL device found: install an OpenCL driver (on Debian/Ubuntu: apt-get install pocl-opencl-icd ocl-icd-libopencl1; NVIDIA drivers ship one)");
        }

        if (string.IsNullOrWhiteSpace(selector))
        {
            return all.FirstOrDefault(d => d.IsGpu) ?? all[0];
        }

        selector = selector!.Trim();
        if (int.TryParse(selector, out var index))
        {
            if (index < 0 || index >= all.Count)
            {
                throw new OpenCLException($"OpenCL device index {index} is out of range; devices:\n{List(all)}");
            }

            return all[index];
        }

        return all.FirstOrDefault(d => d.DisplayName.Contains(selector, StringComparison.OrdinalIgnoreCase))
            ?? throw new OpenCLException($"no OpenCL device matches '{selector}'; devices:\n{List(all)}");
    }

    private static string List(IReadOnlyList<OpenCLDevice> all) => string.Join("\n", all.Select(d => "  " + d));

    private static unsafe string PlatformString(nint platform, uint param)
    {
        var cl = OpenCLApi.Instance;
        nuint size = 0;
        OpenCLErrors.Check(cl.GetPlatformInfo(platform, (PlatformInfo)param, 0, null, &size), "clGetPlatformInfo");
        var bytes = new byte[(int)size];
        fixed (byte* b = bytes)
        {
            OpenCLErrors.Check(cl.GetPlatformInfo(platform, (PlatformInfo)param, size, b, null), "clGetPlatformInfo");
        }

        return Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
    }

    private static unsafe string DeviceString(nint device, uint param)
    {
        var cl = OpenCLApi.Instance;
        nuint size = 0;
        OpenCLErrors.Check(cl.GetDeviceInfo(device, (DeviceInfo)param, 0, null, &size), "clGetDeviceInfo");
        var bytes = new byte[(int)size];
        fixed (byte* b = bytes)
        {
            OpenCLErrors.Check(cl.GetDeviceInfo(device, (DeviceInfo)param, size, b, null), "clGetDeviceInfo");
        }

        return Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
    }

    private static unsafe T DeviceValue<T>(nint device, uint param)
        where T : unmanaged
    {
        T value = default;
        OpenCLErrors.Check(OpenCLApi.Instance.GetDeviceInfo(device, (DeviceInfo)param, (nuint)sizeof(T), &value, null), "clGetDeviceInfo");
        return value;
    }
}

/// <summary>The process-wide Silk.NET binding (libOpenCL.so.1 / OpenCL.dll / the macOS framework).</summary>
internal static class OpenCLApi
{
    private static readonly Lazy<CL> Api = new(Load);

    public static CL Instance => Api.Value;

    private static CL Load()
    {
        try
        {
            return CL.GetApi();
        }
        catch (Exception e) when (e is DllNotFoundException or FileNotFoundException or PlatformNotSupportedException or InvalidOperationException)
        {
            throw new OpenCLException($"the OpenCL ICD loader (libOpenCL.so.1 / OpenCL.dll) could not be loaded: {e.Message}. Install ocl-icd-libopencl1 and a driver such as pocl-opencl-icd.");
        }
    }
}
