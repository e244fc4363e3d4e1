using Ferrum.Gguf;
using Ferrum.Inference;

namespace Ferrum.Model.Tests.Generation;

/// <summary>Chat template detection and rendering compared with llama.cpp's <c>llama_chat_apply_template</c> on the same strings.</summary>
public class ChatTemplateTests
{
    // Jinja templates as models carry them (abridged to the parts llama.cpp's detection reads), and family names.
    public static readonly Dictionary<string, string> Templates = new()
    {
        ["qwen2 (chatml)"] = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
        ["olmoe-instruct (tulu)"] = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '<|system|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}{% if not loop.last %}{{ '<|assistant|>\\n'  + message['content'] + eos_token + '\\n' }}{% else %}{{ '<|assistant|>\\n'  + message['content'] + eos_token }}{% endif %}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}{% endfor %}",
        ["mixtral-8x7b-instruct-v0.1"] = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
        ["llama2-sys"] = "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% endif %}{% for message in loop_messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + content + ' [/INST]' }}{% endif %}{% endfor %}",
        ["llama2-sys-bos"] = "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}{% endif %}{% endfor %}",
        ["llama2-sys-strip"] = "{% for message in messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}{% else %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
        ["mistral-v1"] = "{{ bos_token }}{% for message in loop_messages %}{% if message['role'] == 'user' %}{% if loop.first and system_message is defined %}{{ ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}{% else %}{{ ' [INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endif %}{% endfor %}",
        ["mixtral-8x22b-instruct (mistral-v3)"] = "{{ bos_token }}{% for message in loop_messages %}{% if tools is not none and loop.last %}{{ '[AVAILABLE_TOOLS] [' }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + '[/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content']|trim + eos_token }}{% endif %}{% endfor %}",
        ["mistral-v3-tekken"] = "{{ bos_token }}{% for message in loop_messages %}{% if tools is not none and loop.last %}{{ \"[AVAILABLE_TOOLS]\" }}{% endif %}{% if message[\"role\"] == \"user\" %}{{ \"[INST]\" + message[\"content\"] + \"[/INST]\" }}{% elif message[\"role\"] == \"assistant\" %}{{ message[\"content\"] + eos_token }}{% endif %}{% endfor %}",
        ["mistral-v7"] = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + '[/INST]' }}{% endif %}{% endfor %}",
        ["llama3"] = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
        ["llama4"] = "{{- '<|header_start|>' + message['role'] + '<|header_end|>\\n\\n' }}{{- message['content'] | trim }}{{- '<|eot|>' }}",
        ["phi3"] = "{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
        ["phi4"] = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '<|im_sep|>' + message['content'] + '<|im_end|>'}}{% endfor %}",
        ["falcon3"] = "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + '\\n' }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\\n' + message['content'] + '</s>\\n' }}{% endif %}{% endfor %}",
        ["zephyr (name)"] = "zephyr",
        ["gemma"] = "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
        ["deepseek2"] = "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% endif %}{% endfor %}",
        ["deepseek3"] = "{% for message in messages %}{% if message['role'] == 'user' %}{{'<｜User｜>' + message['content']}}{% elif message['role'] == 'assistant' %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{% endif %}{% endfor %}",
    };

    private static readonly ChatTurn[][] Conversations =
    [
        [new("user", "Hello")],
        [new("system", "You are a helpful assistant."), new("user", "What is 2+2?")],
        [new("user", "Hi"), new("assistant", "Hello! How can I help?"), new("user", "Tell me a joke.")],
        [new("system", "  Be brief.\n"), new("user", " café ☕ 日本 \t"), new("assistant", "\n Sure: ok. "), new("user", "Again"), new("assistant", "Done")],
    ];

    public static TheoryData<string> TemplateNames() => new(Templates.Keys);

    [Theory]
    [MemberData(nameof(TemplateNames))]
    public void Renders_exactly_as_llama_cpp(string key)
    {
        string template = Templates[key];
        var ours = ChatTemplate.Parse(template);
        int compared = 0;
        foreach (var chat in Conversations)
        {
            foreach (bool addAssistant in new[] { true, false })
            {
                string? reference = NativeChatTemplate.Apply(template, chat, addAssistant);
                Assert.NotNull(reference);
                Assert.Equal(reference, ours.Apply(chat, addAssistant));
                compared++;
            }
        }

        Assert.Equal(8, compared);
    }

    [Fact]
    public void Detects_the_families_of_known_model_templates()
    {
        Assert.Equal("chatml", ChatTemplate.Parse(Templates["qwen2 (chatml)"]).Name);
        Assert.Equal("glmedge", ChatTemplate.Parse(Templates["olmoe-instruct (tulu)"]).Name);
        Assert.Equal("llama2", ChatTemplate.Parse(Templates["mixtral-8x7b-instruct-v0.1"]).Name);
        Assert.Equal("mistral-v3", ChatTemplate.Parse(Templates["mixtral-8x22b-instruct (mistral-v3)"]).Name);
        Assert.Equal("mistral-v3-tekken", ChatTemplate.Parse(Templates["mistral-v3-tekken"]).Name);
        Assert.Equal("mistral-v1", ChatTemplate.Parse(Templates["mistral-v1"]).Name);
        Assert.Equal("mistral-v7", ChatTemplate.Parse(Templates["mistral-v7"]).Name);
        Assert.Equal("llama2-sys-strip", ChatTemplate.Parse(Templates["llama2-sys-strip"]).Name);
        Assert.Equal("llama2-sys-bos", ChatTemplate.Parse(Templates["llama2-sys-bos"]).Name);
        Assert.Equal("llama2-sys", ChatTemplate.Parse(Templates["llama2-sys"]).Name);
        Assert.Equal("llama3", ChatTemplate.Parse(Templates["llama3"]).Name);
    }

    [Fact]
    public void Every_supported_family_name_renders_as_llama_cpp()
    {
        foreach (var name in ChatTemplate.SupportedNames)
        {
            var ours = ChatTemplate.FromName(name);
            foreach (var chat in Conversations)
                foreach (bool addAssistant in new[] { true, false })
                    Assert.Equal(NativeChatTemplate.Apply(name, chat, addAssistant), ours.Apply(chat, addAssistant));
        }
    }

    [Fact]
    public void Unrecognized_templates_are_refused_with_the_supported_families_listed()
    {
        const string unknown = "{% for message in messages %}{{ message['content'] }}{% endfor %}";
        Assert.Null(NativeChatTemplate.Apply(unknown, Conversations[0], true)); // llama.cpp does not know it either
        var e = Assert.Throws<NotSupportedException>(() => ChatTemplate.Parse(unknown));
        Assert.Contains("not recognized", e.Message);
        Assert.Contains("chatml", e.Message);
        Assert.Contains("mistral-v3", e.Message);

        // Known to llama.cpp but not rendered by Ferrum: the message names the family.
        const string vicuna = "{% for m in messages %}{{ 'USER: ' + m['content'] + '\\nASSISTANT: ' }}{% endfor %}";
        Assert.NotNull(NativeChatTemplate.Apply(vicuna, Conversations[0], true));
        Assert.Contains("'vicuna'", Assert.Throws<NotSupportedException>(() => ChatTemplate.Parse(vicuna)).Message);

        Assert.Contains("not a chat template family", Assert.Throws<ArgumentException>(() => ChatTemplate.FromName("jinja")).Message);
    }

    [Fact]
    public void From_gguf_reads_tokenizer_chat_template()
    {
        using (var file = GgufFile.Open(new GgufWriter().AddMetadata("general.architecture", "qwen2moe")
                   .AddMetadata(ChatTemplate.GgufKey, Templates["qwen2 (chatml)"]).ToArray()))
        {
            var t = ChatTemplate.FromGguf(file);
            Assert.Equal("chatml", t.Name);
            Assert.Equal(Templates["qwen2 (chatml)"], t.Source);
        }

        using (var file = GgufFile.Open(new GgufWriter().AddMetadata("general.architecture", "olmoe").ToArray()))
        {
            Assert.Contains(ChatTemplate.GgufKey, Assert.Throws<GgufException>(() => ChatTemplate.FromGguf(file)).Message);
            Assert.Equal("chatml", ChatTemplate.FromGguf(file, "chatml").Name);
        }

        using (var file = GgufFile.Open(new GgufWriter().AddMetadata(ChatTemplate.GgufKey, "{{ messages }}").ToArray()))
            Assert.Contains(ChatTemplate.GgufKey, Assert.Throws<NotSupportedException>(() => ChatTemplate.FromGguf(file)).Message);
    }
}
