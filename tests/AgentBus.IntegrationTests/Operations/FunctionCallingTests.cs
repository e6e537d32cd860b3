using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Client;
using AgentBus.Client.Functions;
using AgentBus.Contracts;
using Microsoft.Extensions.AI;

namespace AgentBus.IntegrationTests.Operations;

/// <summary>
/// A model's tool calls through a FunctionInvokingChatClient, with support-bot's operations as
/// AgentBus functions, on the real pipeline: each call is a proposal the policy decides and the
/// executor runs against the sandbox. The offer is built here from the fixture's catalog as the
/// gateway would build it (the policy grants support-bot payments get_order, refund and lookup).
/// </summary>
[Collection(OperationsCollection.Name)]
public sealed class FunctionCallingTests(OperationsFixture fixture) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        using var http = new HttpClient { BaseAddress = fixture.SandboxUrl };
        (await http.DeleteAsync("/calls")).EnsureSuccessStatusCode();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    OperationsOffer Offer(params string[] operations)
    {
        var catalog = CatalogLoader.LoadDirectory(fixture.CatalogDirectory).Catalog!;
        return new OperationsOffer("support-bot", null, [.. operations.Select(name => catalog.Find(name)!).Select(op => new OfferedOperation(
            OperationNames.ForModel(op.Tool, op.Name), op.Tool, op.Name, op.FullName, op.Description,
            JsonSerializer.SerializeToElement(op.ArgumentSchemaJson), op.ReadOnly, !op.ReadOnly, op.Idempotent, op.Risk, op.Capabilities, null))]);
    }

    static async Task<ChatResponse> ChatAsync(AgentClient agent, OperationsOffer offer, string runId, ScriptedChatClient model)
    {
        var functions = agent.AsAIFunctions(offer, runId, new AgentBusFunctionOptions
        {
            CallTimeout = TimeSpan.FromSeconds(30),
            CallId = () => FunctionInvokingChatClient.CurrentContext?.CallContent.CallId,
        });
        using var chat = new ChatClientBuilder(model).UseFunctionInvocation().Build();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        return await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "Help the customer.")], new ChatOptions { Tools = [.. functions] },
            deadline.Token);
    }

    static FunctionResultContent[] Results(IEnumerable<ChatMessage> messages) =>
        [.. messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>()];

    static JsonElement Answer(FunctionResultContent result) => Assert.IsType<JsonElement>(result.Result);

    [Fact]
    public async Task An_allowed_lookup_reaches_the_sandbox_once_and_the_models_next_turn_reads_the_order()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var model = new ScriptedChatClient(
            _ => ScriptedChatClient.Calls("call-1", "payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" }),
            seen => ScriptedChatClient.Says($"Paid {Answer(Results(seen).Single()).GetProperty("result").GetProperty("body").GetProperty("paidUsd")} USD."));

        var response = await ChatAsync(agent, Offer("payments.get_order", "payments.refund"), "run-fn-lookup", model);

        var call = Assert.Single(fixture.SandboxCalls.Calls);
        Assert.Equal(("GET", "/api/orders/ORD-1001"), (call.Method, call.Path));
        var seen = Answer(Assert.Single(Results(model.Seen[1])));
        Assert.Equal("succeeded", seen.GetProperty("status").GetString());
        Assert.Equal("ORD-1001", seen.GetProperty("externalReference").GetString());
        Assert.Equal(call.ActionId, AgentBusFunction.ActionIdFor("support-bot", "run-fn-lookup", "payments_get_order", "call-1"));
        Assert.StartsWith("Paid ", response.Text);
    }

    [Fact]
    public async Task A_call_to_an_operation_the_agent_is_not_granted_is_answered_with_no_grant_not_an_exception()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var model = new ScriptedChatClient(
            _ => ScriptedChatClient.Calls("call-1", "payments_cancel_refund", new Dictionary<string, object?> { ["refundId"] = "RF-000001" }),
            seen => ScriptedChatClient.Says($"I may not: {Answer(Results(seen).Single()).GetProperty("error").GetString()}."));

        var response = await ChatAsync(agent, Offer("payments.get_order", "payments.cancel_refund"), "run-fn-deny", model);

        var result = Assert.Single(Results(model.Seen[1]));
        Assert.Null(result.Exception);
        var answer = Answer(result);
        Assert.Equal("denied", answer.GetProperty("status").GetString());
        Assert.Equal(ReasonCodes.NoGrant, answer.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(answer.GetProperty("reason").GetString()));
        Assert.Equal("I may not: no_grant.", response.Text);
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task A_function_call_retried_with_the_same_call_id_refunds_once_and_both_answers_tell_the_same_outcome()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var refund = new Dictionary<string, object?> { ["orderId"] = "ORD-1001", ["amountUsd"] = 25.00m, ["reason"] = "Item arrived damaged." };
        var model = new ScriptedChatClient(
            _ => ScriptedChatClient.Calls("call-refund-1", "payments_refund", refund),
            _ => ScriptedChatClient.Calls("call-refund-1", "payments_refund", refund),
            _ => ScriptedChatClient.Says("Refunded."));

        await ChatAsync(agent, Offer("payments.get_order", "payments.refund"), "run-fn-retry", model);

        var post = Assert.Single(fixture.SandboxCalls.Calls, c => c.Method == "POST");
        Assert.Equal("/api/orders/ORD-1001/refunds", post.Path);
        var answers = Results(model.Seen[2]).Select(Answer).ToList();
        Assert.Equal(2, answers.Count);
        Assert.All(answers, a => Assert.Equal("succeeded", a.GetProperty("status").GetString()));
        Assert.StartsWith("RF-", answers[0].GetProperty("externalReference").GetString());
        Assert.Equal(answers[0].GetProperty("externalReference").GetString(), answers[1].GetProperty("externalReference").GetString());
    }
}
