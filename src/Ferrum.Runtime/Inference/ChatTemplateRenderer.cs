using System.Text;

namespace Ferrum.Inference;

/// <summary>The fixed renderings of llama.cpp's <c>llm_chat_apply_template</c> for the families Ferrum supports.</summary>
internal static class ChatTemplateRenderer
{
    // C's isspace in the "C" locale: what llama.cpp's trim() removes.
    private static readonly char[] CSpace = [' ', '\t', '\n', '\v', '\f', '\r'];

    private static string Trim(string s) => s.Trim(CSpace);

    public static void Render(string family, IReadOnlyList<ChatTurn> chat, bool addAssistant, StringBuilder ss)
    {
        switch (family)
        {
            case "chatml":
                foreach (var m in chat)
                    ss.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
                if (addAssistant)
                    ss.Append("<|im_start|>assistant\n");
                break;

            case "phi4":
                foreach (var m in chat)
                    ss.Append("<|im_start|>").Append(m.Role).Append("<|im_sep|>").Append(m.Content).Append("<|im_end|>");
                if (addAssistant)
                    ss.Append("<|im_start|>assistant<|im_sep|>");
                break;

            case "mistral-v7":
            case "mistral-v7-tekken":
            {
                string space = family == "mistral-v7" ? " " : "";
                foreach (var m in chat)
                {
                    if (m.Role == "system")
                        ss.Append("[SYSTEM_PROMPT]").Append(space).Append(m.Content).Append("[/SYSTEM_PROMPT]");
                    else if (m.Role == "user")
                        ss.Append("[INST]").Append(space).Append(m.Content).Append("[/INST]");
                    else
                        ss.Append(space).Append(m.Content).Append("</s>");
                }

                break;
            }

            case "mistral-v1":
            case "mistral-v3":
            case "mistral-v3-tekken":
            {
                string leading = family == "mistral-v1" ? " " : "";
                string trailing = family == "mistral-v3-tekken" ? "" : " ";
                bool trimAssistant = family == "mistral-v3";
                bool inTurn = false;
                foreach (var m in chat)
                {
                    if (!inTurn)
                    {
                        ss.Append(leading).Append("[INST]").Append(trailing);
                        inTurn = true;
                    }

                    if (m.Role == "system")
                        ss.Append(m.Content).Append("\n\n");
                    else if (m.Role == "user")
                        ss.Append(m.Content).Append(leading).Append("[/INST]");
                    else
                    {
                        ss.Append(trailing).Append(trimAssistant ? Trim(m.Content) : m.Content).Append("</s>");
                        inTurn = false;
                    }
                }

                break;
            }

            case "llama2":
            case "llama2-sys":
            case "llama2-sys-bos":
            case "llama2-sys-strip":
            {
                bool systemSupported = family != "llama2";
                bool bosInHistory = family == "llama2-sys-bos";
                bool strip = family == "llama2-sys-strip";
                bool inTurn = true; // the first [INST] is written up front; BOS comes from the tokenizer
                ss.Append("[INST] ");
                foreach (var m in chat)
                {
                    string content = strip ? Trim(m.Content) : m.Content;
                    if (!inTurn)
                    {
                        inTurn = true;
                        ss.Append(bosInHistory ? "<s>[INST] " : "[INST] ");
                    }

                    if (m.Role == "system")
                    {
                        if (systemSupported)
                            ss.Append("<<SYS>>\n").Append(content).Append("\n<</SYS>>\n\n");
                        else
                            ss.Append(content).Append('\n');
                    }
                    else if (m.Role == "user")
                        ss.Append(content).Append(" [/INST]");
                    else
                    {
                        ss.Append(content).Append("</s>");
                        inTurn = false;
                    }
                }

                break;
            }

            case "phi3":
                foreach (var m in chat)
                    ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("<|end|>\n");
                if (addAssistant)
                    ss.Append("<|assistant|>\n");
                break;

            case "falcon3":
                foreach (var m in chat)
                    ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append('\n');
                if (addAssistant)
                    ss.Append("<|assistant|>\n");
                break;

            case "zephyr":
                foreach (var m in chat)
                    ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append("<|endoftext|>\n");
                if (addAssistant)
                    ss.Append("<|assistant|>\n");
                break;

            case "glmedge":
                foreach (var m in chat)
                    ss.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content);
                if (addAssistant)
                    ss.Append("<|assistant|>");
                break;

            case "gemma":
            {
                // No system role: system text is merged into the next user turn.
                string system = "";
                foreach (var m in chat)
                {
                    if (m.Role == "system")
                    {
                        system += Trim(m.Content);
                        continue;
                    }

                    string role = m.Role == "assistant" ? "model" : m.Role;
                    ss.Append("<start_of_turn>").Append(role).Append('\n');
                    if (system.Length > 0 && role != "model")
                    {
                        ss.Append(system).Append("\n\n");
                        system = "";
                    }

                    ss.Append(Trim(m.Content)).Append("<end_of_turn>\n");
                }

                if (addAssistant)
                    ss.Append("<start_of_turn>model\n");
                break;
            }

            case "llama3":
                foreach (var m in chat)
                    ss.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(Trim(m.Content)).Append("<|eot_id|>");
                if (addAssistant)
                    ss.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;

            case "llama4":
                foreach (var m in chat)
                    ss.Append("<|header_start|>").Append(m.Role).Append("<|header_end|>\n\n").Append(Trim(m.Content)).Append("<|eot|>");
                if (addAssistant)
                    ss.Append("<|header_start|>assistant<|header_end|>\n\n");
                break;

            case "deepseek2":
                foreach (var m in chat)
                {
                    if (m.Role == "system")
                        ss.Append(m.Content).Append("\n\n");
                    else if (m.Role == "user")
                        ss.Append("User: ").Append(m.Content).Append("\n\n");
                    else if (m.Role == "assistant")
                        ss.Append("Assistant: ").Append(m.Content).Append("<｜end▁of▁sentence｜>");
                }

                if (addAssistant)
                    ss.Append("Assistant:");
                break;

            case "deepseek3":
                foreach (var m in chat)
                {
                    if (m.Role == "system")
                        ss.Append(m.Content).Append("\n\n");
                    else if (m.Role == "user")
                        ss.Append("<｜User｜>").Append(m.Content);
                    else if (m.Role == "assistant")
                        ss.Append("<｜Assistant｜>").Append(m.Content).Append("<｜end▁of▁sentence｜>");
                }

                if (addAssistant)
                    ss.Append("<｜Assistant｜>");
                break;

            default:
                throw new InvalidOperationException($"No rendering for chat template family '{family}'.");
        }
    }
}
