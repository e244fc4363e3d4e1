namespace Ferrum.Inference;

/// <summary>
/// llama.cpp's <c>llm_chat_detect_template</c> (src/llama-chat.cpp): a template string that is a known family name is
/// that family; otherwise the first matching marker substring (checked in llama.cpp's order) names it. Returns llama.cpp's
/// family name for every family it knows, including those Ferrum does not render, so that precedence is exactly llama.cpp's.
/// </summary>
internal static class ChatTemplateDetector
{
    /// <summary>llama.cpp's LLM_CHAT_TEMPLATES names.</summary>
    internal static readonly HashSet<string> KnownNames = new(StringComparer.Ordinal)
    {
        "chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "mistral-v1", "mistral-v3",
        "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "phi3", "phi4", "falcon3", "zephyr", "monarch", "gemma",
        "orion", "openchat", "vicuna", "vicuna-orca", "deepseek", "deepseek2", "deepseek3", "command-r", "llama3",
        "chatglm3", "chatglm4", "glmedge", "minicpm", "exaone3", "exaone4", "rwkv-world", "granite", "gigachat", "megrez",
        "yandex", "bailing", "bailing-think", "bailing2", "llama4", "smolvlm", "hunyuan-moe", "gpt-oss", "hunyuan-dense",
        "kimi-k2", "seed_oss", "grok-2", "pangu-embedded",
    };

    /// <summary>The llama.cpp family name of <paramref name="template"/>, or null when llama.cpp does not recognize it.</summary>
    public static string? Detect(string template)
    {
        if (KnownNames.Contains(template))
            return template;
        bool Has(string s) => template.Contains(s, StringComparison.Ordinal);

        if (Has("<|im_start|>"))
            return Has("<|im_sep|>") ? "phi4" : Has("<end_of_utterance>") ? "smolvlm" : "chatml";
        if (template.StartsWith("mistral", StringComparison.Ordinal) || Has("[INST]"))
        {
            if (Has("[SYSTEM_PROMPT]"))
                return "mistral-v7";
            if (Has("' [INST] ' + system_message") || Has("[AVAILABLE_TOOLS]"))
                return Has(" [INST]") ? "mistral-v1" : Has("\"[INST]\"") ? "mistral-v3-tekken" : "mistral-v3";
            if (Has("content.strip()"))
                return "llama2-sys-strip";
            if (Has("bos_token + '[INST]"))
                return "llama2-sys-bos";
            return Has("<<SYS>>") ? "llama2-sys" : "llama2";
        }

        if (Has("<|assistant|>") && Has("<|end|>")) return "phi3";
        if (Has("[gMASK]<sop>")) return "chatglm4";
        if (Has("<|assistant|>") && Has("<|user|>")) return Has("</s>") ? "falcon3" : "glmedge";
        if (Has("<|{{ item['role'] }}|>") && Has("<|begin_of_image|>")) return "glmedge";
        if (Has("<|user|>") && Has("<|endoftext|>")) return "zephyr";
        if (Has("bos_token + message['role']")) return "monarch";
        if (Has("<start_of_turn>")) return "gemma";
        if (Has("'\\n\\nAssistant: ' + eos_token")) return "orion";
        if (Has("GPT4 Correct ")) return "openchat";
        if (Has("USER: ") && Has("ASSISTANT: ")) return Has("SYSTEM: ") ? "vicuna-orca" : "vicuna";
        if (Has("### Instruction:") && Has("<|EOT|>")) return "deepseek";
        if (Has("<|START_OF_TURN_TOKEN|>") && Has("<|USER_TOKEN|>")) return "command-r";
        if (Has("<|start_header_id|>") && Has("<|end_header_id|>")) return "llama3";
        if (Has("[gMASK]sop")) return "chatglm3";
        if (Has("<用户>")) return "minicpm";
        if (Has("'Assistant: ' + message['content'] + eos_token")) return "deepseek2";
        if (Has("<｜Assistant｜>") && Has("<｜User｜>") && Has("<｜end▁of▁sentence｜>")) return "deepseek3";
        if (Has("[|system|]") && Has("[|assistant|]") && Has("[|endofturn|]")) return Has("[|tool|]") ? "exaone4" : "exaone3";
        if (Has("rwkv-world") || Has("{{- 'User: ' + message['content']|trim + '\\n\\n' -}}")) return "rwkv-world";
        if (Has("<|start_of_role|>")) return "granite";
        if (Has("message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]")) return "gigachat";
        if (Has("<|role_start|>")) return "megrez";
        if (Has(" Ассистент:")) return "yandex";
        if (Has("<role>ASSISTANT</role>") && Has("'HUMAN'")) return "bailing";
        if (Has("<role>ASSISTANT</role>") && Has("\"HUMAN\"") && Has("<think>")) return "bailing-think";
        if (Has("<role>ASSISTANT</role>") && Has("<role>HUMAN</role>") && Has("<|role_end|>")) return "bailing2";
        if (Has("<|header_start|>") && Has("<|header_end|>")) return "llama4";
        if (Has("<|endofuserprompt|>")) return "dots1";
        if (Has("<|extra_0|>") && Has("<|extra_4|>")) return "hunyuan-moe";
        if (Has("<|start|>") && Has("<|channel|>")) return "gpt-oss";
        if (Has("<｜hy_Assistant｜>") && Has("<｜hy_place▁holder▁no▁3｜>")) return "hunyuan-dense";
        if (Has("<|im_assistant|>assistant<|im_middle|>")) return "kimi-k2";
        if (Has("<seed:bos>")) return "seed_oss";
        if (Has("'Assistant: '  + message['content'] + '<|separator|>")) return "grok-2";
        if (Has("[unused9]系统：[unused10]")) return "pangu-embedded";
        return null;
    }
}
