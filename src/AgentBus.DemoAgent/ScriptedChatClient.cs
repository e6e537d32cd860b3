using System.Text.Json;
using Microsoft.Extensions.AI;

namespace AgentBus.DemoAgent;

/// <summary>
/// A stand-in for a model, so the demo needs no weights and no network: on the first turn it asks
/// for order ORD-1001 with payments_get_order, on the second it answers from what the function returned.
/// </summary>
sealed class ScriptedChatClient : IChatClient
{
    public const string OrderId = "ORD-1001";

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var answer = messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().LastOrDefault() is { } result
            ? new ChatMessage(ChatRole.Assistant, Summarise(result.Result))
            : new ChatMessage(ChatRole.Assistant,
                [new FunctionCallContent("call-order-1", "payments_get_order", new Dictionary<string, object?> { ["orderId"] = OrderId })]);
        return Task.FromResult(new ChatResponse(answer));
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var update in (await GetResponseAsync(messages, options, cancellationToken)).ToChatResponseUpdates())
            yield return update;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }

    /// <summary>What a model would say, read from the function's JSON answer (AgentBus's status first).</summary>
    static string Summarise(object? result)
    {
        if (result is not JsonElement { ValueKind: JsonValueKind.Object } answer)
            return $"I could not look the order up: {result}";
        var status = Text(answer, "status");
        if (status != "succeeded")
            return $"I could not look the order up: AgentBus answered {status} ({Text(answer, "error") ?? Text(answer, "errorCode") ?? "no code"}): " +
                   $"{Text(answer, "reason") ?? Text(answer, "advice")}";
        var order = answer.GetProperty("result").TryGetProperty("body", out var body) ? body : answer.GetProperty("result");
        return $"Order {Text(order, "orderId") ?? OrderId} is {Text(order, "status") ?? "in an unknown state"}: " +
               $"paid {Number(order, "paidUsd")} USD, refunded {Number(order, "refundedUsd")} USD so far.";
    }

    static string? Text(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Object && value.TryGetProperty(name, out var field) && field.ValueKind == JsonValueKind.String ? field.GetString() : null;

    static string Number(JsonElement value, string name) =>
        value.ValueKind == JsonValueKind.Object && value.TryGetProperty(name, out var field) && field.ValueKind == JsonValueKind.Number ? field.GetRawText() : "?";
}
