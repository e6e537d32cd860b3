using System.Text;
using AgentBus.Contracts;
using AgentBus.DataBoundaries;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Operations;

/// <summary>
/// What an action may carry out and bring back, on real RabbitMQ and PostgreSQL with the demo's
/// catalog: create_ticket accepts the customer's address (at most two), nothing else; support-bot
/// may receive addresses in results, intern-bot nothing.
/// </summary>
[Collection(OperationsCollection.Name)]
public sealed class DataBoundaryPipelineTests(OperationsFixture fixture) : IAsyncLifetime
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    const string Card = "4111 1111 1111 1111";

    public Task InitializeAsync() => fixture.ResetWithShopAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_ticket_carrying_a_card_number_is_denied_with_its_pointer_nothing_reaches_the_desk_and_no_store_keeps_the_number()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");

        var result = await agent.RunAsync("ticketing.create_ticket",
            new { title = "Refund please", priority = "normal", customerEmail = "ada@example.com", description = $"I paid with {Card}, exp 12/29." },
            "run-boundary-card", Timeout);

        Assert.Equal(Decision.Denied, result.Decision.Decision);
        Assert.Equal(ReasonCodes.DataBoundary, result.Decision.ReasonCode);
        Assert.Equal("tools/ticketing/create_ticket/accepts", result.Decision.RuleId);
        Assert.Contains("pii.card at /description", result.Decision.Reason, StringComparison.Ordinal);
        Assert.Contains("accepts pii.email (at most 2)", result.Decision.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("4111", result.Decision.Reason, StringComparison.Ordinal);
        Assert.Null(result.Succeeded);
        Assert.Empty(fixture.SandboxCalls.Calls);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @id AND event_type IN ('ActionProposed', 'ActionDecided')", new { id = result.ActionId }) == 2,
            "the proposal and its denial in the audit");
        Assert.Equal(1, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @id AND reason_code = 'data_boundary'", new { id = result.ActionId }));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE payload LIKE '%4111%'"));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_raw_payloads WHERE position('4111'::bytea in payload) > 0"));
        Assert.Equal(1, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @id AND event_type = 'ActionProposed' AND payload LIKE '%[redacted:pii.card]%'",
            new { id = result.ActionId }));
    }

    [Fact]
    public async Task Secrets_in_encodings_a_model_might_produce_are_denied_too_and_a_plain_ticket_goes_through()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var key = "AKIA" + "IOSFODNN7EXAMPLE";
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes($"aws_access_key_id = {key}"));

        var encoded = await agent.RunAsync("ticketing.create_ticket",
            new { title = "Config dump", priority = "low", description = $"attachment: {base64}" }, "run-boundary-enc", Timeout);
        var plain = await agent.RunAsync("ticketing.create_ticket",
            new { title = "Login fails", priority = "high", customerEmail = "ada@example.com", description = "Reply to ada.work@example.com please." },
            "run-boundary-enc", Timeout);
        var tooMany = await agent.RunAsync("ticketing.create_ticket",
            new { title = "Mailing list", priority = "low", description = "a@example.com, b@example.com, c@example.com" }, "run-boundary-enc", Timeout);

        Assert.Equal(ReasonCodes.DataBoundary, encoded.Decision.ReasonCode);
        Assert.Contains("secret.aws_access_key at /description (base64-encoded)", encoded.Decision.Reason, StringComparison.Ordinal);
        Assert.True(plain.Succeeded is not null, $"{plain.Decision.ReasonCode}: {plain.Decision.Reason} {plain.Failed?.Error}");
        Assert.Equal(ReasonCodes.DataBoundary, tooMany.Decision.ReasonCode);
        Assert.Contains("pii.email 3 times at /description (at most 2)", tooMany.Decision.Reason, StringComparison.Ordinal);
        Assert.Single(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task A_grant_narrows_what_its_agent_may_send()
    {
        await using var agent = await fixture.ConnectAgentAsync("python-agent");

        var result = await agent.RunAsync("ticketing.create_ticket",
            new { title = "Call me", priority = "low", customerEmail = "ada@example.com" }, "run-boundary-narrow", Timeout);

        Assert.Equal(ReasonCodes.DataBoundary, result.Decision.ReasonCode);
        Assert.Equal("python-agent-desk/accepts", result.Decision.RuleId);
        Assert.Contains("It accepts nothing", result.Decision.Reason, StringComparison.Ordinal);
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task A_lookup_returns_the_customers_address_masked_to_an_agent_without_clearance_and_intact_to_one_with_it()
    {
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");
        await using var support = await fixture.ConnectAgentAsync("support-bot");

        var masked = await intern.RunAsync("payments.get_order", new { orderId = "ORD-1001" }, "run-boundary-mask", Timeout);
        var clear = await support.RunAsync("payments.get_order", new { orderId = "ORD-1001" }, "run-boundary-mask", Timeout);

        var maskedBody = masked.Succeeded!.Result.GetProperty("body");
        Assert.Equal("[masked:pii.email]", maskedBody.GetProperty("customerEmail").GetString());
        Assert.Equal("ORD-1001", maskedBody.GetProperty("orderId").GetString());
        Assert.Equal(new MaskedData(DataClasses.Email, "/body/customerEmail"), Assert.Single(masked.Succeeded.Masked!));
        var address = clear.Succeeded!.Result.GetProperty("body").GetProperty("customerEmail").GetString()!;
        Assert.Contains('@', address);
        Assert.Null(clear.Succeeded.Masked);

        // The masking is recorded with the outcome, and the masked address is nowhere in the intern's records.
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @id AND event_type = 'ActionSucceeded'", new { id = masked.ActionId }) == 1,
            "the intern's outcome in the audit");
        var payload = (await fixture.QueryAsync<string>(
            "SELECT payload FROM audit_events WHERE action_id = @id AND event_type = 'ActionSucceeded'", new { id = masked.ActionId })).Single();
        Assert.Contains("\"masked\":[{\"class\":\"pii.email\",\"pointer\":\"/body/customerEmail\"", payload, StringComparison.Ordinal);
        Assert.Equal(0, await fixture.CountAsync(
            "SELECT count(*) FROM execution_claims WHERE action_id = @id AND outcome::text LIKE '%' || @address || '%'",
            new { id = masked.ActionId, address }));
    }
}
