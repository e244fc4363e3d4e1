namespace Ferrum.Inference;

/// <summary>One message of a conversation, as llama.cpp's <c>llama_chat_message</c>: a role ("system", "user", "assistant", ...) and its text.</summary>
public readonly record struct ChatTurn(string Role, string Content);
