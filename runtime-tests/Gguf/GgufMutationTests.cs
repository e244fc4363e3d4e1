using System.Diagnostics;
using Ferrum.Gguf;
using Xunit.Abstractions;

namespace Ferrum.Runtime.Tests.Gguf;

/// <summary>
/// Randomized hardening: every mutant of a valid file either opens (and then every value and tensor can be read) or
/// throws <see cref="GgufFormatException"/>. Each image sits right before a guard page, so an out-of-bounds read would
/// crash the test run rather than pass unnoticed.
/// </summary>
public class GgufMutationTests(ITestOutputHelper output)
{
    private const int Mutants = 12_000;

    [Fact]
    public void EveryMutantOpensOrThrowsGgufFormatException()
    {
        Assert.True(GuardedBuffer.IsSupported, "the guarded mutation test needs Linux mprotect");
        var bases = Enumerable.Range(0, 6).Select(GgufSamples.SmallForMutation).ToArray();
        var capacity = bases.Max(b => b.Length) + 16 * 3 * 16 + 64; // room for insertions
        using var guard = new GuardedBuffer(capacity);
        var seed = 0x5EED_6660;
        var rng = new Random(seed);
        int opened = 0, rejected = 0;
        var problems = new Dictionary<string, int>();
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < Mutants; i++)
        {
            var mutant = GgufMutator.Mutate(bases[i % bases.Length], rng);
            if (mutant.Length > guard.Capacity)
            {
                mutant = mutant[..guard.Capacity];
            }

            var memory = guard.Place(mutant);
            try
            {
                using var file = GgufFile.Open(memory, $"mutant#{i}");
                TouchEverything(file);
                opened++;
            }
            catch (GgufFormatException e)
            {
                rejected++;
                Assert.InRange(e.ByteOffset, 0, mutant.Length);
                var kind = e.Problem.Split(' ')[0];
                problems[kind] = problems.GetValueOrDefault(kind) + 1;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutant {i} (seed {seed}) threw {e.GetType().Name}: {e.Message}\n{Convert.ToHexString(mutant)}");
            }
        }

        output.WriteLine($"{Mutants} mutants in {sw.ElapsedMilliseconds} ms: {opened} opened, {rejected} rejected");
        Assert.Equal(Mutants, opened + rejected);
        Assert.True(opened > 100 && rejected > 1000, $"mutations too mild or too harsh: {opened} opened, {rejected} rejected");
    }

    /// <summary>Reads everything a consumer could: all values, all tensor bytes, the MoE view and the printable forms.</summary>
    internal static void TouchEverything(GgufFile file)
    {
        foreach (var kv in file.Metadata)
        {
            _ = kv.Value.Format(int.MaxValue);
        }

        long sum = 0;
        foreach (var t in file.Tensors)
        {
            var bytes = file.GetTensorBytes(t);
            if (bytes.Length > 0)
            {
                sum += bytes[0] + bytes[^1];
            }

            _ = t.Stride(3);
            _ = t.ToString();
        }

        try
        {
            _ = file.GetMoeHyperParameters();
        }
        catch (GgufException e) when (e is not GgufFormatException)
        {
            // a mutated key can make the MoE view inapplicable; that is a lookup error, not a crash
        }

        GC.KeepAlive(sum);
    }
}
