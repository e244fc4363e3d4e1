using Ferrum.Generators.Tests.Infrastructure;
using Ferrum.Kernels;
using Ferrum.Quantization;
using Silk.NET.OpenCL;

namespace Ferrum.Generators.Tests;

/// <summary>
/// The generated OpenCL C sources build on a real OpenCL device (pocl's CPU device in CI) and compute the same
/// q8_0 mat-vec as the exact reference. Like every OpenCL test here, this fails rather than skips without a device.
/// </summary>
public unsafe class OpenClKernelTests
{
    [Fact]
    public void GeneratedOpenClSourcesBuildAndComputeQ8_0MatVec()
    {
        var assembly = CompileTests.CompileAndLoad("""
            targets: [opencl]
            formats: [q8_0]
            models:
              - name: opencl-check
                arch: qwen3moe
                hidden: 96
                expert_ffn: 64
                experts: 2
                top_k: 1
                roles: { gate: [q8_0], up: [q8_0], down: [q8_0] }
                batches: [1, 3]
            """);
        System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);

        var cl = CL.GetApi();
        var device = FirstDevice(cl);
        int err;
        var context = cl.CreateContext(null, 1, &device, null, null, &err);
        Check(err, "clCreateContext");
        var queue = cl.CreateCommandQueue(context, device, CommandQueueProperties.None, &err);
        Check(err, "clCreateCommandQueue");
        try
        {
            var random = new Random(11);
            var cases = new[] { (64, 96, 3), (96, 64, 1), (64, 96, 1), (96, 64, 3) };
            foreach (var (rows, length, batch) in cases)
            {
                var source = KernelSourceCatalog.Find(KernelTarget.OpenCL, new KernelKey(GgmlType.Q8_0, rows, length, batch));
                Assert.NotNull(source);
                Assert.False(source.Key.IsGeneric);
                Run(cl, context, device, queue, source, random, rows, length, batch);
            }

            var generic = KernelSourceCatalog.Find(KernelTarget.OpenCL, new KernelKey(GgmlType.Q8_0, 5, 160, 2));
            Assert.NotNull(generic);
            Assert.True(generic.Key.IsGeneric);
            Run(cl, context, device, queue, generic, random, 5, 160, 2);
        }
        finally
        {
            cl.ReleaseCommandQueue(queue);
            cl.ReleaseContext(context);
        }
    }

    private static void Run(CL cl, nint context, nint device, nint queue, KernelSource source, Random random, int rows, int length, int batch)
    {
        var (weights, expected, input) = Q8_0Reference.Case(random, rows, length, batch);
        int err;
        var program = cl.CreateProgramWithSource(context, 1, [source.Text], null, &err);
        Check(err, "clCreateProgramWithSource");
        var build = cl.BuildProgram(program, 1, &device, (byte*)null, null, null);
        Assert.True(build == 0, $"{source.Name}: clBuildProgram {build}\n{BuildLog(cl, program, device)}");
        var kernel = cl.CreateKernel(program, source.EntryPoint, &err);
        Check(err, "clCreateKernel");
        var output = new float[rows * batch];
        fixed (byte* pw = weights)
        fixed (float* px = input)
        {
            var bw = cl.CreateBuffer(context, MemFlags.ReadOnly | MemFlags.CopyHostPtr, (nuint)weights.Length, pw, &err);
            Check(err, "clCreateBuffer");
            var bx = cl.CreateBuffer(context, MemFlags.ReadOnly | MemFlags.CopyHostPtr, (nuint)(input.Length * sizeof(float)), px, &err);
            Check(err, "clCreateBuffer");
            var by = cl.CreateBuffer(context, MemFlags.WriteOnly, (nuint)(output.Length * sizeof(float)), null, &err);
            Check(err, "clCreateBuffer");
            var stride = (ulong)(length / 32 * 34);
            Check(cl.SetKernelArg(kernel, 0, (nuint)sizeof(nint), &bw), "arg 0");
            Check(cl.SetKernelArg(kernel, 1, sizeof(ulong), &stride), "arg 1");
            Check(cl.SetKernelArg(kernel, 2, (nuint)sizeof(nint), &bx), "arg 2");
            Check(cl.SetKernelArg(kernel, 3, (nuint)sizeof(nint), &by), "arg 3");
            if (source.Key.IsGeneric)
            {
                Check(cl.SetKernelArg(kernel, 4, sizeof(int), &rows), "arg 4");
                Check(cl.SetKernelArg(kernel, 5, sizeof(int), &length), "arg 5");
                Check(cl.SetKernelArg(kernel, 6, sizeof(int), &batch), "arg 6");
            }

            var global = stackalloc nuint[] { (nuint)rows, (nuint)batch };
            Check(cl.EnqueueNdrangeKernel(queue, kernel, 2, null, global, null, 0, null, null), "clEnqueueNDRangeKernel");
            fixed (float* py = output)
            {
                Check(cl.EnqueueReadBuffer(queue, by, true, 0, (nuint)(output.Length * sizeof(float)), py, 0, null, null), "clEnqueueReadBuffer");
            }

            cl.ReleaseMemObject(bw);
            cl.ReleaseMemObject(bx);
            cl.ReleaseMemObject(by);
        }

        cl.ReleaseKernel(kernel);
        cl.ReleaseProgram(program);
        for (var i = 0; i < output.Length; i++)
        {
            Assert.True(Math.Abs(output[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"{source.Name} {rows}x{length} b{batch}: output {i} is {output[i]}, expected {expected[i]}");
        }
    }

    private static nint FirstDevice(CL cl)
    {
        uint count;
        var status = cl.GetPlatformIDs(0, null, &count);
        Assert.True(status == 0 && count > 0, "no OpenCL platform: install an OpenCL driver (CI uses pocl-opencl-icd)");
        var platforms = new nint[count];
        fixed (nint* p = platforms)
        {
            cl.GetPlatformIDs(count, p, null);
        }

        foreach (var platform in platforms)
        {
            nint device;
            uint devices;
            if (cl.GetDeviceIDs(platform, DeviceType.All, 1, &device, &devices) == 0 && devices > 0)
            {
                return device;
            }
        }

        Assert.Fail("no OpenCL device on any platform");
        return 0;
    }

    private static string BuildLog(CL cl, nint program, nint device)
    {
        nuint size;
        cl.GetProgramBuildInfo(program, device, ProgramBuildInfo.BuildLog, 0, null, &size);
        var log = new byte[(int)size];
        fixed (byte* p = log)
        {
            cl.GetProgramBuildInfo(program, device, ProgramBuildInfo.BuildLog, size, p, null);
        }

        return System.Text.Encoding.UTF8.GetString(log).TrimEnd('\0');
    }

    private static void Check(int status, string call) => Assert.True(status == 0, $"{call} failed: {status}");
}
