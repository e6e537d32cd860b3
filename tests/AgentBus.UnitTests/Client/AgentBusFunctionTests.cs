using System.Text.Json;
using AgentBus.Client;
using AgentBus.Client.Functions;
using AgentBus.Contracts;
using Microsoft.Extensions.AI;

namespace AgentBus.UnitTests.Client;

public sealed class AgentBusFunctionTests
{
    const string RunId = "run-fn";

    static readonly JsonElement RefundSchema = JsonDocument.Parse("""
        {"type":"object","additionalProperties":false,"required":["orderId","amountUsd","reason"],
         "properties":{"orderId":{"type":"string"},"amountUsd":{"type":"number"},"reason":{"type":"string"}}}
        """).RootElement;

    static OfferedOperation Refund(string tool = "payments", string? approval = null) => new(
        OperationNames.ForModel(tool, "refund"), tool, "refund", $"{tool}.refund", "Refund part or all of a paid order.", RefundSchema,
        ReadOnly: false, Destructive: true, Idempotent: true, Risk: "high", Capabilities: ["money.move"], Approval: approval);

    static AIFunctionArguments RefundArguments() => new()
    {
        ["orderId"] = JsonDocument.Parse("\"ORD-1001\"").RootElement,
        ["amountUsd"] = 25.5m,
        ["reason"] = "Item arrived damaged.",
    };

    static async Task<JsonElement> CallAsync(AgentBusFunction function, AIFunctionArguments? arguments = null) =>
        Assert.IsType<JsonElement>(await function.InvokeAsync(arguments ?? RefundArguments()));

    [Fact]
    public void An_offered_operation_is_a_function_with_the_offered_name_schema_and_hints()
    {
        var function = new AgentBusFunction(new FakeActionChannel(_ => null), Refund(), RunId, null);

        Assert.Equal("payments_refund", function.Name);
        Assert.Equal("Refund part or all of a paid order.", function.Description);
        Assert.Equal(RefundSchema.GetRawText(), function.JsonSchema.GetRawText());
        Assert.Equal(false, function.AdditionalProperties[AgentBusFunction.ReadOnlyProperty]);
        Assert.Equal(true, function.AdditionalProperties[AgentBusFunction.DestructiveProperty]);
        Assert.Equal(true, function.AdditionalProperties[AgentBusFunction.IdempotentProperty]);
        Assert.Equal("payments.refund", function.AdditionalProperties[AgentBusFunction.TitleProperty]);
    }

    [Fact]
    public void An_operation_people_must_approve_says_so_before_the_model_calls_it()
    {
        var function = new AgentBusFunction(new FakeActionChannel(_ => null), Refund(approval: "1 of 'payments-approvers' when amountUsd > 250"), RunId, null);

        Assert.StartsWith("Refund part or all of a paid order. Needs a person's approval (1 of 'payments-approvers' when amountUsd > 250)",
            function.Description);
        Assert.Contains("approval_required", function.Description);
    }

    [Fact]
    public async Task A_call_proposes_the_offers_tool_and_operation_with_the_arguments_as_one_json_object()
    {
        // A tool name with a dot: the model-facing name cannot be split back, the offer says what to propose.
        var channel = new FakeActionChannel(p => FakeActionChannel.Succeeded(p, new { refundId = "RF-000001" }, "RF-000001"));
        var function = new AgentBusFunction(channel, Refund(tool: "shop.payments"), RunId, null);

        await CallAsync(function);

        var proposal = Assert.Single(channel.Proposals);
        Assert.Equal("shop_payments_refund", function.Name);
        Assert.Equal(("shop.payments", "refund"), (proposal.Tool, proposal.Operation));
        Assert.Equal(RunId, proposal.RunId);
        Assert.Equal("""{"orderId":"ORD-1001","amountUsd":25.5,"reason":"Item arrived damaged."}""", proposal.Arguments.GetRawText());
        Assert.True(Guid.TryParseExact(proposal.ActionId, "D", out _));
    }

    [Fact]
    public async Task A_call_that_ran_returns_the_tools_result_its_reference_and_cost()
    {
        var channel = new FakeActionChannel(p => FakeActionChannel.Succeeded(p, new { status = 201, body = new { refundId = "RF-000001" } }, "RF-000001"));

        var answer = await CallAsync(new AgentBusFunction(channel, Refund(), RunId, null));

        Assert.Equal("succeeded", answer.GetProperty("status").GetString());
        Assert.Equal("RF-000001", answer.GetProperty("result").GetProperty("body").GetProperty("refundId").GetString());
        Assert.Equal("RF-000001", answer.GetProperty("externalReference").GetString());
        Assert.Equal(0.001m, answer.GetProperty("costUsd").GetDecimal());
    }

    [Fact]
    public async Task A_denial_is_an_answer_with_the_reason_code_rule_and_reason_not_an_exception()
    {
        var channel = new FakeActionChannel(p => new ActionResult(p.ActionId, FakeActionChannel.Decided(p, Decision.Denied, ReasonCodes.NoGrant,
            "No grant lets support-bot call payments.refund.", "default-deny")));

        var answer = await CallAsync(new AgentBusFunction(channel, Refund(), RunId, null));

        Assert.Equal("denied", answer.GetProperty("status").GetString());
        Assert.Equal("no_grant", answer.GetProperty("error").GetString());
        Assert.Equal("default-deny", answer.GetProperty("rule").GetString());
        Assert.Equal("No grant lets support-bot call payments.refund.", answer.GetProperty("reason").GetString());
        Assert.Contains("nothing was done", answer.GetProperty("advice").GetString());
    }

    [Fact]
    public async Task A_call_people_must_approve_answers_at_once_with_the_approval_id_and_that_it_runs_once_approved()
    {
        var channel = new FakeActionChannel(p => new ActionResult(p.ActionId, FakeActionChannel.Decided(p, Decision.ApprovalRequired,
            "approval_required", "Refunds above 250 USD need 1 of payments-approvers.", "support-bot-refunds", approvalId: "apr-1")));
        var function = new AgentBusFunction(channel, Refund(), RunId, new AgentBusFunctionOptions { CallTimeout = TimeSpan.FromSeconds(30) });

        var started = TimeProvider.System.GetTimestamp();
        var answer = await CallAsync(function);

        Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(5), "it does not wait for people");
        Assert.Equal("approval_required", answer.GetProperty("status").GetString());
        Assert.Equal("apr-1", answer.GetProperty("approvalId").GetString());
        Assert.Equal(channel.Proposals[0].ActionId, answer.GetProperty("actionId").GetString());
        Assert.Contains("runs by itself once approved", answer.GetProperty("advice").GetString());
    }

    [Fact]
    public async Task Waiting_for_approval_gives_up_after_the_maximum_wait_and_still_answers_approval_required()
    {
        var channel = new FakeActionChannel(p => new ActionResult(p.ActionId, FakeActionChannel.Decided(p, Decision.ApprovalRequired,
            "approval_required", "Needs a person.", "support-bot-refunds", approvalId: "apr-2")));
        var function = new AgentBusFunction(channel, Refund(), RunId,
            new AgentBusFunctionOptions { WaitForApproval = true, MaxApprovalWait = TimeSpan.FromMilliseconds(200) });

        var answer = await CallAsync(function);

        Assert.Equal("approval_required", answer.GetProperty("status").GetString());
        Assert.Equal("apr-2", answer.GetProperty("approvalId").GetString());
    }

    [Fact]
    public async Task A_failure_whose_outcome_is_unknown_tells_the_model_not_to_retry()
    {
        var channel = new FakeActionChannel(p => new ActionResult(p.ActionId,
            FakeActionChannel.Decided(p, Decision.Allowed, ReasonCodes.Allowed, "Granted.", "support-bot-shop"),
            Failed: new ActionFailed(p.ActionId, p.RunId, "support-bot", p.Tool, "tool_timeout", "No answer within 10 s.", OutcomeUnknown: true,
                10_000, 1, DateTimeOffset.UtcNow)));

        var answer = await CallAsync(new AgentBusFunction(channel, Refund(), RunId, null));

        Assert.Equal("failed", answer.GetProperty("status").GetString());
        Assert.Equal("tool_timeout", answer.GetProperty("errorCode").GetString());
        Assert.Equal("No answer within 10 s.", answer.GetProperty("error").GetString());
        Assert.True(answer.GetProperty("outcomeUnknown").GetBoolean());
        Assert.Contains("Do not retry", answer.GetProperty("advice").GetString());
    }

    [Fact]
    public async Task No_answer_in_time_is_a_timeout_with_the_action_id_and_the_advice_not_to_propose_again()
    {
        var channel = new FakeActionChannel(_ => null);
        var function = new AgentBusFunction(channel, Refund(), RunId, new AgentBusFunctionOptions { CallTimeout = TimeSpan.FromMilliseconds(200) });

        var answer = await CallAsync(function);

        Assert.Equal("timeout", answer.GetProperty("status").GetString());
        Assert.Equal(channel.Proposals[0].ActionId, answer.GetProperty("actionId").GetString());
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("decision").ValueKind);
        Assert.Contains("Do not call this function again", answer.GetProperty("advice").GetString());
    }

    [Fact]
    public async Task The_callers_own_cancellation_is_not_reported_to_the_model_as_a_timeout()
    {
        var function = new AgentBusFunction(new FakeActionChannel(_ => null), Refund(), RunId, null);
        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => function.InvokeAsync(RefundArguments(), cancelled.Token).AsTask());
    }

    [Fact]
    public async Task A_function_call_retried_with_the_same_call_id_is_the_same_action_and_runs_once()
    {
        var channel = new FakeActionChannel(p => FakeActionChannel.Succeeded(p, new { refundId = "RF-000001" }, "RF-000001"));
        var callId = "call_abc";
        var function = new AgentBusFunction(channel, Refund(), RunId, new AgentBusFunctionOptions { CallId = () => callId });

        var first = await CallAsync(function);
        var retried = await CallAsync(function);
        callId = "call_def";
        await CallAsync(function);

        Assert.Equal(3, channel.Proposals.Count);
        Assert.Equal(channel.Proposals[0].ActionId, channel.Proposals[1].ActionId);
        Assert.NotEqual(channel.Proposals[0].ActionId, channel.Proposals[2].ActionId);
        Assert.Equal(2, channel.Ran.Count);
        Assert.Equal(first.GetRawText(), retried.GetRawText());
        Assert.Equal(AgentBusFunction.ActionIdFor("support-bot", RunId, "payments_refund", "call_abc"), channel.Proposals[0].ActionId);
    }

    [Fact]
    public void An_action_id_from_a_call_id_is_a_uuid_that_differs_by_agent_run_function_and_call()
    {
        var id = AgentBusFunction.ActionIdFor("support-bot", "run-1", "payments_refund", "call_1");

        Assert.True(Guid.TryParseExact(id, "D", out var guid));
        Assert.Equal(8, guid.Version);
        Assert.Equal(id, AgentBusFunction.ActionIdFor("support-bot", "run-1", "payments_refund", "call_1"));
        Assert.Equal(4, new[]
        {
            AgentBusFunction.ActionIdFor("intern-bot", "run-1", "payments_refund", "call_1"),
            AgentBusFunction.ActionIdFor("support-bot", "run-2", "payments_refund", "call_1"),
            AgentBusFunction.ActionIdFor("support-bot", "run-1", "payments_get_order", "call_1"),
            AgentBusFunction.ActionIdFor("support-bot", "run-1", "payments_refund", "call_2"),
        }.Where(other => other != id).Distinct().Count());
    }

    [Fact]
    public async Task Without_a_call_id_every_call_is_a_new_action()
    {
        var channel = new FakeActionChannel(p => FakeActionChannel.Succeeded(p, new { }, null));
        var function = new AgentBusFunction(channel, Refund(), RunId, new AgentBusFunctionOptions { CallId = () => null });

        await CallAsync(function);
        await CallAsync(function);

        Assert.NotEqual(channel.Proposals[0].ActionId, channel.Proposals[1].ActionId);
    }
}
