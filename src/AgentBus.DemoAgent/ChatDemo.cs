using System.Text.Json;
using AgentBus.Client;
using AgentBus.Client.Functions;
using AgentBus.Contracts;
using Microsoft.Extensions.AI;
using Spectre.Console;

namespace AgentBus.DemoAgent;

/// <summary>
/// The same agent driven by a chat client instead of a script: support-bot's operations, as the
/// gateway offers them, become functions of a FunctionInvokingChatClient, so the model's tool call
/// is proposed to AgentBus and decided by policy like any other action. The model is scripted.
/// </summary>
static class ChatDemo
{
    public const string Agent = "support-bot";

    /// <summary>Prints what the model asked, what AgentBus decided and the answer; false when it could not run (the reason printed in one line).</summary>
    public static async Task<bool> RunAsync(AgentClient client, string gatewayUrl, string runId)
    {
        AnsiConsole.MarkupLine($"[bold]A model calls {Agent}'s operations through AgentBus[/] (scripted chat client, run {runId})");
        if (!Uri.TryCreate(gatewayUrl, UriKind.Absolute, out var gateway) || gateway.Scheme is not ("http" or "https"))
        {
            AnsiConsole.MarkupLine($"[red]error:[/] no function calling: AGENTBUS_GATEWAY_URL={Markup.Escape(gatewayUrl)} is not an http(s) URL.");
            return false;
        }
        OperationsOffer offer;
        try
        {
            offer = await client.GetOperationsAsync(gateway);
        }
        catch (GatewayException ex)
        {
            AnsiConsole.MarkupLine($"[red]error:[/] no function calling: {Markup.Escape(ex.Message)}");
            return false;
        }
        AnsiConsole.MarkupLine($"  offered: {Markup.Escape(string.Join(", ", offer.Operations.Select(o => o.Name)))}");

        var functions = client.AsAIFunctions(offer, runId, new AgentBusFunctionOptions
        {
            CallId = () => FunctionInvokingChatClient.CurrentContext?.CallContent.CallId,
        });
        using var chat = new ChatClientBuilder(new ScriptedChatClient()).UseFunctionInvocation().Build();
        var question = $"What is the status of order {ScriptedChatClient.OrderId}?";
        AnsiConsole.MarkupLine($"  user: {Markup.Escape(question)}");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, question)], new ChatOptions { Tools = [.. functions] }, deadline.Token);

        foreach (var content in response.Messages.SelectMany(m => m.Contents))
        {
            var line = content switch
            {
                FunctionCallContent call => $"  model asked: [bold]{Markup.Escape(call.Name)}[/] {Markup.Escape(JsonSerializer.Serialize(call.Arguments))}",
                FunctionResultContent result => $"  AgentBus: {Markup.Escape(Shorten(JsonSerializer.Serialize(result.Result)))}",
                TextContent text => $"  model answered: [green]{Markup.Escape(text.Text)}[/]",
                _ => null,
            };
            if (line is not null)
                AnsiConsole.MarkupLine(line);
        }
        await client.CompleteRunAsync(runId, succeeded: response.Text.Length > 0, summary: "Scripted chat: one order lookup as a function call.");
        return true;
    }

    static string Shorten(string json) => json.Length <= 400 ? json : json[..400] + "…";
}
