using LLama.Native;

namespace Ferrum.Model.Tests;

public class ProjectTests
{
    [Fact]
    public void Llama_cpp_native_library_loads()
    {
        // The reference must be there: a missing libllama fails the suite instead of skipping the comparisons.
        var info = NativeApi.llama_max_devices();
        Assert.True(info >= 1);
    }
}
