using Ferrum.Backends.OpenCL;

namespace Ferrum.Runtime.Tests.OpenCL;

/// <summary>Device selection, the on-disk program cache (hit, corrupt entry), and error reporting.</summary>
[Collection(OpenCLCollection.Name)]
public sealed class OpenCLRuntimeTests(OpenCLFixture fixture)
{
    private const string Tiny = "__kernel void add_one(__global float* a) { a[get_global_id(0)] += 1.0f; }\n";

    [Fact]
    public void Devices_are_selected_by_index_name_and_environment_variable()
    {
        var all = OpenCLDevice.All();
        Assert.NotEmpty(all);
        Assert.Equal(all[0].DisplayName, OpenCLDevice.Select("0").DisplayName);
        var last = all[^1];
        Assert.Equal(last.DisplayName, OpenCLDevice.Select(last.Name.ToUpperInvariant()).DisplayName);

        var previous = Environment.GetEnvironmentVariable(OpenCLDevice.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(OpenCLDevice.EnvironmentVariable, (all.Count - 1).ToString());
            Assert.Equal(last.DisplayName, OpenCLDevice.Select().DisplayName);
            Assert.Equal(all[0].DisplayName, OpenCLDevice.Select("0").DisplayName); // an explicit option wins
        }
        finally
        {
            Environment.SetEnvironmentVariable(OpenCLDevice.EnvironmentVariable, previous);
        }

        var none = Assert.Throws<OpenCLException>(() => OpenCLDevice.Select("no-such-device-xyz"));
        Assert.Contains("no OpenCL device matches 'no-such-device-xyz'", none.Message);
        Assert.Contains(all[0].Name, none.Message);
        var range = Assert.Throws<OpenCLException>(() => OpenCLDevice.Select("99"));
        Assert.Contains("index 99 is out of range", range.Message);
    }

    [Fact]
    public void Program_binaries_are_cached_on_disk_and_a_corrupt_entry_is_rebuilt()
    {
        var dir = Directory.CreateTempSubdirectory("ferrum-clcache-");
        try
        {
            var cache = new OpenCLProgramCache(dir.FullName);
            var device = fixture.Context.Device;
            var path = cache.PathOf(OpenCLProgramCache.Key(device, Tiny, string.Empty));
            using (var c1 = new OpenCLContext(device, cache))
            {
                Assert.False(c1.BuildProgram("tiny", Tiny).LoadedFromCache);
                RunAddOne(c1, "tiny");
            }

            Assert.True(File.Exists(path));
            using (var c2 = new OpenCLContext(device, cache))
            {
                Assert.True(c2.BuildProgram("tiny", Tiny).LoadedFromCache);
                RunAddOne(c2, "tiny");
            }

            File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6, 7, 8]);
            using (var c3 = new OpenCLContext(device, cache))
            {
                Assert.False(c3.BuildProgram("tiny", Tiny).LoadedFromCache);
                RunAddOne(c3, "tiny");
            }

            Assert.True(new FileInfo(path).Length > 8, "the corrupt entry was not replaced");
            using (var c4 = new OpenCLContext(device, cache))
            {
                Assert.True(c4.BuildProgram("tiny", Tiny).LoadedFromCache);
                RunAddOne(c4, "tiny");
            }

            Assert.NotEqual(OpenCLProgramCache.Key(device, Tiny, string.Empty), OpenCLProgramCache.Key(device, Tiny, "-D X=1"));
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void A_build_failure_names_the_error_code_and_carries_the_build_log()
    {
        var broken = Tiny.Replace("1.0f", "undeclared_thing");
        var e = Assert.Throws<OpenCLException>(() => fixture.Context.BuildProgram("broken", broken));
        Assert.Equal(-11, e.ErrorCode);
        Assert.Equal("CL_BUILD_PROGRAM_FAILURE", e.ErrorName);
        Assert.Contains("undeclared_thing", e.BuildLog);
        Assert.Contains("CL_BUILD_PROGRAM_FAILURE (-11)", e.Message);
        Assert.Contains("build log:", e.Message);

        var program = fixture.Context.BuildProgram("tiny", Tiny);
        var k = Assert.Throws<OpenCLException>(() => program.Kernel("no_such_kernel"));
        Assert.Equal("CL_INVALID_KERNEL_NAME", k.ErrorName);
        Assert.Equal("CL_UNKNOWN_ERROR", OpenCLErrors.Name(-12345));
    }

    private static void RunAddOne(OpenCLContext ctx, string name)
    {
        var program = ctx.BuildProgram(name, Tiny);
        float[] data = [1, 2, 3, 4];
        using var buf = ctx.CreateBuffer(16);
        ctx.Write<float>(buf, data);
        var k = program.Kernel("add_one");
        OpenCLLaunch.Arg(ctx, k, 0, buf);
        OpenCLLaunch.Run(ctx, k, "add_one", [4], default);
        var back = new float[4];
        ctx.Read<float>(buf, back);
        Assert.Equal([2f, 3f, 4f, 5f], back);
    }
}
