using Ferrum.Backends.Cpu;
using Ferrum.Gguf;
using Ferrum.Inference;
using Ferrum.Models;
using Ferrum.Moe;
using Ferrum.Sample.Demo;
using Ferrum.Text;

namespace Ferrum.Sample.Generation;

/// <summary>What to generate: the prompt, how many tokens, how to sample, when to stop, and whether to wrap it as a chat.</summary>
public sealed record GenerationRequest(string Prompt, int MaxTokens, SamplingOptions Sampling, IReadOnlyList<string> StopStrings, bool Chat);

/// <summary>What came out: the prompt's token ids, the generated ids, the text and the statistics.</summary>
public sealed record GenerationResult(string Prompt, IReadOnlyList<int> PromptTokens, IReadOnlyList<int> Tokens, string Text, GenerationStats Stats);

/// <summary>
/// A whole GGUF model ready to generate: the file's tokenizer, the model (MoE blocks of the shape kernels.yaml
/// declares run through the generated type, the others through the CPU backend) and one session.
/// </summary>
public sealed class TextRunner : IDisposable
{
    private readonly GgufFile _file;
    private readonly MoeModel _model;
    private readonly IInferenceSession _session;
    private readonly CpuWorkerPool _pool;

    private TextRunner(GgufFile file, GgufTokenizer tokenizer, MoeModel model, IInferenceSession session, CpuWorkerPool pool)
    {
        _file = file;
        Tokenizer = tokenizer;
        _model = model;
        _session = session;
        _pool = pool;
    }

    /// <summary>The file's tokenizer.</summary>
    public GgufTokenizer Tokenizer { get; }

    /// <summary>general.architecture.</summary>
    public string Architecture => _model.Config.Architecture;

    /// <summary>Bytes of the session's KV cache.</summary>
    public long KvCacheBytes => _model.KvCacheBytes(_session.ContextLength);

    /// <summary>Opens <paramref name="path"/> (memory-mapped) with <paramref name="threads"/> threads and a context of <paramref name="contextLength"/> tokens.</summary>
    public static TextRunner Open(string path, int threads, int contextLength)
    {
        var file = Commands.ModelFiles.Open(path);
        CpuWorkerPool? pool = null;
        MoeModel? model = null;
        try
        {
            var tokenizer = GgufTokenizer.FromGguf(file);
            pool = new CpuWorkerPool(threads);
            var shared = pool;
            var backend = new CpuBackend(new CpuMoeOptions { Workers = shared });
            model = MoeModel.Load(file, new MoeModelOptions
            {
                Threads = threads,
                MoeBlockFactory = (f, layer) =>
                {
                    using var description = MoeLayer.Load(f, layer);
                    return DeclaredModel.Create(f, description, backend);
                },
            });
            var session = model.CreateSession(contextLength);
            return new TextRunner(file, tokenizer, model, session, pool);
        }
        catch
        {
            model?.Dispose();
            pool?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>Generates for <paramref name="request"/>, calling <paramref name="onText"/> with each piece of text as it is final.</summary>
    public GenerationResult Generate(GenerationRequest request, Action<string>? onText, CancellationToken cancellationToken)
    {
        var prompt = request.Prompt;
        if (request.Chat)
        {
            prompt = ChatTemplate.FromGguf(_file).Apply([new ChatTurn("user", request.Prompt)], addGenerationPrompt: true);
        }

        var promptTokens = Tokenizer.Encode(prompt, addSpecial: true, parseSpecial: request.Chat);
        var options = new GenerationOptions { MaxTokens = request.MaxTokens, Sampling = request.Sampling, StopStrings = request.StopStrings };
        var generator = new TextGenerator(Tokenizer, _session) { ReuseCachedPrefix = false };
        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        var run = Task.Run(async () =>
        {
            await foreach (var t in generator.GenerateAsync(promptTokens, options, cancellationToken))
            {
                tokens.Add(t.TokenId);
                text.Append(t.Text);
                if (t.Text.Length > 0)
                {
                    onText?.Invoke(t.Text);
                }
            }
        }, cancellationToken);
        run.GetAwaiter().GetResult();
        return new GenerationResult(prompt, promptTokens, tokens, text.ToString(), generator.LastStats!);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _session.Dispose();
        _model.Dispose();
        _pool.Dispose();
        _file.Dispose();
    }
}
