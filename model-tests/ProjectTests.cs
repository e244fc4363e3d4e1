namespace Ferrum.Model.Tests;

public class ProjectTests
{
    [Fact]
    public void Inference_contracts_are_public_interfaces()
    {
        Assert.True(typeof(Ferrum.Inference.ITokenizer).IsInterface);
        Assert.True(typeof(Ferrum.Inference.IInferenceSession).IsInterface);
    }
}
