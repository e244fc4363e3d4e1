using Ferrum.Generated;
using Ferrum.Gguf;

public static class Example
{
    public static float[] Run(string modelPath)
    {
        using var file = GgufFile.Open(modelPath);           // memory-mapped, nothing read yet
        using var layer = Tiny_Moe.Load(file, 0);             // generated from kernels.yaml: checks shapes and formats, binds the kernels
        Console.WriteLine($"layer 0: gate {layer.GateFormat}, down {layer.DownFormat}, {layer.Gate.Experts} experts on {layer.Backend}");

        var x = new float[2 * Tiny_Moe.Hidden];               // two tokens
        x[0] = 1f;
        x[Tiny_Moe.Hidden + 1] = -1f;
        var y = new float[x.Length];
        layer.Forward(x, y);                                  // routes, runs the top-k experts, sums
        return y;
    }
}
