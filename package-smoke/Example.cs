using Ferrum.Generated;
using Ferrum.Gguf;
using Ferrum.Moe;

public static class Example
{
    public static float[] Run(string modelPath)
    {
        using var file = GgufFile.Open(modelPath);          // memory-mapped, nothing read yet
        var declared = Tiny_Moe.LoadLayer(file, 0);           // generated from kernels.yaml: checks shapes and formats
        Console.WriteLine($"layer 0: gate {declared.GateFormat}, down {declared.DownFormat}, {declared.Gate.Experts} experts");

        using var layer = GgufMoeLayer.Load(file, 0);         // zero-copy weights, routing from the metadata
        using var moe = new CpuMoeLayer(layer.Weights, layer.Routing);
        var x = new float[Tiny_Moe.Hidden];
        x[0] = 1f;
        var y = new float[Tiny_Moe.Hidden];
        moe.Forward(x, y);                                    // routes, runs the top-k experts, sums
        return y;
    }
}
