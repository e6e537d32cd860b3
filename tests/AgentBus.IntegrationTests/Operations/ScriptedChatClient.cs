using Microsoft.Extensions.AI;

namespace AgentBus.IntegrationTests.Operations;

/// <summary>
/// A model that follows a script: turn n answers with the n-th message, built from the messages it
/// was sent (so a turn can read the function results before it). It records what each turn saw.
/// </summary>
sealed class ScriptedChatClient(params Func<IReadOnlyList<ChatMessage>, ChatMessage>[] turns) : IChatClient
{
    public List<IReadOnlyList<ChatMessage>> Seen { get; } = [];

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var sent = messages.ToList();
        Seen.Add(sent);
        if (Seen.Count > turns.Length)
            throw new InvalidOperationException($"The script has {turns.Length} turns; turn {Seen.Count} was asked for.");
        return Task.FromResult(new ChatResponse(turns[Seen.Count - 1](sent)));
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The script answers whole responses only.");

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }

    public static ChatMessage Calls(string callId, string function, IDictionary<string, object?> arguments) =>
        new(ChatRole.Assistant, [new FunctionCallContent(callId, function, arguments)]);

    public static ChatMessage Says(string text) => new(ChatRole.Assistant, text);
}
