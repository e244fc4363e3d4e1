using System.Text;
using Ferrum.Gguf;

namespace Ferrum.Inference;

/// <summary>
/// A chat prompt format, recognized and rendered the way llama.cpp's <c>llama_chat_apply_template</c> does without a
/// Jinja engine (src/llama-chat.cpp): the GGUF's <c>tokenizer.chat_template</c> is matched to a known family by marker
/// substrings, and each family renders messages with fixed text. Templates of other families are refused.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>The key holding a model's Jinja chat template.</summary>
    public const string GgufKey = "tokenizer.chat_template";

    private static readonly (string Name, string Models)[] Families =
    [
        ("chatml", "Qwen2/Qwen2-MoE/Qwen3/Qwen3-MoE and other <|im_start|> models"),
        ("glmedge", "OLMoE-Instruct and other <|user|>/<|assistant|> templates without </s> (llama.cpp's glmedge rendering)"),
        ("falcon3", "<|user|>/<|assistant|> templates with </s>"),
        ("zephyr", "<|user|> ... <|endoftext|>"),
        ("phi3", "<|user|> ... <|end|>"),
        ("phi4", "<|im_start|> ... <|im_sep|>"),
        ("llama2", "[INST] without <<SYS>>"),
        ("llama2-sys", "[INST] with <<SYS>> (Mixtral-Instruct v0.1 style)"),
        ("llama2-sys-bos", "[INST] with bos_token + '[INST]"),
        ("llama2-sys-strip", "[INST] with content.strip()"),
        ("mistral-v1", "Mistral v1 (' [INST] ' + system_message)"),
        ("mistral-v3", "Mistral v3 ([AVAILABLE_TOOLS], Mixtral-8x22B-Instruct)"),
        ("mistral-v3-tekken", "Mistral v3 Tekken"),
        ("mistral-v7", "Mistral v7 ([SYSTEM_PROMPT])"),
        ("mistral-v7-tekken", "Mistral v7 Tekken"),
        ("llama3", "Llama 3 (<|start_header_id|>)"),
        ("llama4", "Llama 4 (<|header_start|>)"),
        ("gemma", "Gemma (<start_of_turn>)"),
        ("deepseek2", "DeepSeek-V2"),
        ("deepseek3", "DeepSeek-V3 (<｜User｜>)"),
    ];

    private static readonly HashSet<string> Supported = new(Families.Select(f => f.Name), StringComparer.Ordinal);

    private ChatTemplate(string name, string? source)
    {
        Name = name;
        Source = source;
    }

    /// <summary>llama.cpp's name of the family (e.g. "chatml", "mistral-v3", "llama3").</summary>
    public string Name { get; }

    /// <summary>The template text it was recognized from, or null when made from a name.</summary>
    public string? Source { get; }

    /// <summary>The family names Ferrum renders.</summary>
    public static IReadOnlyList<string> SupportedNames { get; } = Families.Select(f => f.Name).ToArray();

    /// <summary>llama.cpp's family name for <paramref name="template"/> (a Jinja template or a family name), or null when llama.cpp would not recognize it.</summary>
    public static string? DetectFamily(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        return ChatTemplateDetector.Detect(template);
    }

    /// <summary>Recognizes <paramref name="template"/> (a Jinja template text or a family name) as llama.cpp does.</summary>
    /// <exception cref="NotSupportedException">The template is not of a family Ferrum renders; the message lists those.</exception>
    public static ChatTemplate Parse(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var family = ChatTemplateDetector.Detect(template);
        if (family is null)
            throw new NotSupportedException($"Chat template not recognized: llama.cpp's template detection matches no known family. {SupportedList()} Template starts: {Preview(template)}");
        if (!Supported.Contains(family))
            throw new NotSupportedException($"Chat template recognized as llama.cpp's '{family}' family, which Ferrum does not render. {SupportedList()}");
        return new ChatTemplate(family, template);
    }

    /// <summary>The template of a family by its llama.cpp name (for files without <c>tokenizer.chat_template</c>).</summary>
    public static ChatTemplate FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Supported.Contains(name))
            throw new ArgumentException($"'{name}' is not a chat template family Ferrum renders. {SupportedList()}", nameof(name));
        return new ChatTemplate(name, null);
    }

    /// <summary>
    /// The template of a GGUF model from <c>tokenizer.chat_template</c>. When the file has none, <paramref name="fallbackName"/>
    /// names the family (llama.cpp itself falls back to "chatml"); with no fallback that is an error.
    /// </summary>
    public static ChatTemplate FromGguf(GgufFile file, string? fallbackName = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (file.Metadata.TryGetValue(GgufKey, out _))
        {
            string text = file.Metadata.GetString(GgufKey);
            try
            {
                return Parse(text);
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"{file.Path}: {GgufKey}: {e.Message}", e);
            }
        }

        if (fallbackName is null)
            throw new GgufException($"{file.Path}: the model has no '{GgufKey}'; name a chat template family (one of {string.Join(", ", SupportedNames)}).");
        return FromName(fallbackName);
    }

    /// <summary>
    /// Renders the conversation as llama.cpp's <c>llm_chat_apply_template</c>; <paramref name="addGenerationPrompt"/> ends
    /// it with the start of an assistant turn (families whose format has no such marker, like the [INST] ones, ignore it).
    /// </summary>
    public string Apply(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role is null || messages[i].Content is null)
                throw new ArgumentException($"Message {i} has a null role or content.", nameof(messages));
        }

        var sb = new StringBuilder();
        ChatTemplateRenderer.Render(Name, messages, addGenerationPrompt, sb);
        return sb.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private static string SupportedList() =>
        "Supported families: " + string.Join("; ", Families.Select(f => $"{f.Name} ({f.Models})")) + ".";

    private static string Preview(string template) =>
        template.Length <= 80 ? $"\"{template}\"" : $"\"{template[..80]}...\"";
}
