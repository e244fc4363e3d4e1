using System.Runtime.InteropServices;
using System.Text;
using Ferrum.Inference;
using LLama.Native;

namespace Ferrum.Model.Tests.Generation;

/// <summary>llama.cpp's own <c>llama_chat_apply_template</c> (libllama via LLamaSharp 0.30.0): the reference rendering.</summary>
internal static unsafe class NativeChatTemplate
{
    /// <summary>The rendered prompt, or null when llama.cpp does not recognize the template (it returns a negative count).</summary>
    public static string? Apply(string template, IReadOnlyList<ChatTurn> chat, bool addAssistant)
    {
        var handles = new List<IntPtr>();
        try
        {
            var tmpl = Marshal.StringToCoTaskMemUTF8(template);
            handles.Add(tmpl);
            var messages = new LLamaChatMessage[chat.Count];
            for (int i = 0; i < chat.Count; i++)
            {
                var role = Marshal.StringToCoTaskMemUTF8(chat[i].Role);
                var content = Marshal.StringToCoTaskMemUTF8(chat[i].Content);
                handles.Add(role);
                handles.Add(content);
                messages[i].role = (byte*)role;
                messages[i].content = (byte*)content;
            }

            var buffer = new byte[4096];
            while (true)
            {
                int n;
                fixed (LLamaChatMessage* m = messages)
                fixed (byte* b = buffer)
                    n = NativeApi.llama_chat_apply_template((byte*)tmpl, m, (nuint)messages.Length, addAssistant, b, buffer.Length);
                if (n < 0)
                    return null;
                if (n <= buffer.Length)
                    return Encoding.UTF8.GetString(buffer, 0, n);
                buffer = new byte[n];
            }
        }
        finally
        {
            foreach (var h in handles)
                Marshal.FreeCoTaskMem(h);
        }
    }
}
