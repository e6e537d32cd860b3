using System.Text;
using System.Text.Json;
using AgentBus.Audit.Stories;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>The pipeline records every step of a run, with the projections connected as the application role.</summary>
[Collection(AuditCollection.Name)]
public sealed class AuditTrailTests(AuditFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    string Url(string path) => new Uri(fixture.SandboxUrl, path).ToString();

    [Fact]
    public async Task A_run_is_recorded_step_by_step_and_told_as_a_story()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");
        const string run = "run-story-1";

        var ticket = await support.RunAsync("ticketing", new
        {
            method = "POST",
            url = Url("/ticketing/tickets"),
            body = new { title = "Cannot log in", customer = new { phone = "+49 30 1234567", name = "Ada" }, apiKey = "sk-live-0123456789" },
        }, run, TimeSpan.FromSeconds(20), intent: "open a ticket");
        var refund = await intern.RunAsync("payments", new { method = "POST", url = Url("/payments/refunds"), body = new { orderId = "ORD-1" } },
            run, TimeSpan.FromSeconds(20));
        var exfiltration = await support.RunAsync("ticketing", new { method = "POST", url = "https://paste.example.com/upload" }, run,
            TimeSpan.FromSeconds(20));
        await support.CompleteRunAsync(run, succeeded: true, summary: "Ticket opened.");
        Assert.NotNull(ticket.Succeeded);
        Assert.Equal(Decision.Denied, refund.Decision.Decision);
        Assert.Equal("destination_not_allowed", exfiltration.Failed?.ErrorCode);

        var query = new RunStoryQuery(fixture.Superuser);
        var story = await Eventually.Get(() => query.GetAsync(run), s => s is { RunEvents.Count: 1, Actions.Count: 3 }
            && s.Actions.All(a => a.Steps.Any(step => step.Stage == StoryStages.Proposal))
            && s.Actions.All(a => a.Status is "succeeded" or "denied" or "refused"), "the whole run in the audit");

        Assert.Equal("succeeded", story!.Status);
        var opened = story.Actions.Single(a => a.ActionId == ticket.ActionId);
        Assert.Equal(["proposal", "decision", "authorization", "execution", "outcome"], opened.Steps.Select(s => s.Stage));
        Assert.Equal("allowed", opened.Decision);
        Assert.Equal("support-bot-tickets", opened.RuleId);
        Assert.False(string.IsNullOrEmpty(opened.PolicyVersion));
        Assert.NotNull(opened.AuthorizedAt);
        Assert.Equal(ticket.Succeeded!.ExternalReference, opened.ExternalReference);
        Assert.Equal(0.002m, opened.CostUsd);
        Assert.Equal("open a ticket", opened.Intent);
        var body = opened.Arguments!.Value.GetProperty("body");
        Assert.Equal("[redacted]", body.GetProperty("customer").GetProperty("phone").GetString());
        Assert.Equal("Ada", body.GetProperty("customer").GetProperty("name").GetString());
        Assert.Equal("[redacted]", body.GetProperty("apiKey").GetString());

        var denied = story.Actions.Single(a => a.ActionId == refund.ActionId);
        Assert.Equal(("denied", ReasonCodes.NoGrant), (denied.Status, denied.ReasonCode));
        Assert.Equal("intern-bot", denied.AgentId);
        Assert.Equal(("refused", "destination_not_allowed"), (story.Actions.Single(a => a.ActionId == exfiltration.ActionId).Status,
            story.Actions.Single(a => a.ActionId == exfiltration.ActionId).ErrorCode));
        Assert.Equal((3, 1, 1, 1, 0.002m), (story.Totals.Actions, story.Totals.Succeeded, story.Totals.Denied, story.Totals.Refused, story.Totals.CostUsd));
        Assert.True(story.Agents.Single(a => a.AgentId == "support-bot").Succeeded);
        Assert.Null(story.Agents.Single(a => a.AgentId == "intern-bot").Succeeded);
        Assert.Contains("\"runId\":\"run-story-1\"", JsonSerializer.Serialize(story, new JsonSerializerOptions(JsonSerializerDefaults.Web)));

        // The secret is in the raw tier only.
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE payload LIKE '%sk-live-0123456789%'"));
        Assert.Equal(2, await fixture.CountAsync("""
            SELECT count(*) FROM audit_raw_payloads r JOIN audit_events e USING (event_id)
            WHERE e.action_id = @id AND convert_from(r.payload, 'UTF8') LIKE '%sk-live-0123456789%'
            """, new { id = ticket.ActionId }));

        var (exit, output) = await AuditFixture.CliAsync("runs", "show", run, "--postgres", fixture.ConnectionString);
        Assert.Equal(0, exit);
        Assert.Contains("support-bot-tickets", output);
        Assert.Contains($"ref {ticket.Succeeded.ExternalReference}", output);
        Assert.Contains("no_grant", output);
        Assert.Contains("destination_not_allowed", output);
        Assert.Contains("reported success", output);
        Assert.Contains("Totals: 3 action(s)", output);
        Assert.DoesNotContain("sk-live", output);

        (exit, output) = await AuditFixture.CliAsync("runs", "show", run, "--json", "--postgres", fixture.ConnectionString);
        Assert.Equal(0, exit);
        Assert.Equal(3, JsonDocument.Parse(output).RootElement.GetProperty("actions").GetArrayLength());

        (exit, output) = await AuditFixture.CliAsync("runs", "list", "--status", "succeeded", "--postgres", fixture.ConnectionString);
        Assert.Equal(0, exit);
        Assert.Contains(run, output);
        (_, output) = await AuditFixture.CliAsync("runs", "list", "--status", "running", "--agent", "support-bot", "--postgres", fixture.ConnectionString);
        Assert.DoesNotContain(run, output);
        (_, output) = await AuditFixture.CliAsync("runs", "list", "--status", "running", "--agent", "intern-bot", "--postgres", fixture.ConnectionString);
        Assert.Contains(run, output);

        Assert.Equal(1, (await AuditFixture.CliAsync("runs", "show", "no-such-run", "--postgres", fixture.ConnectionString)).Exit);
        (exit, output) = await AuditFixture.CliAsync("audit", "verify", "--postgres", fixture.ConnectionString);
        Assert.Equal(0, exit);
        Assert.Contains("Audit chain intact", output);
    }

    [Fact]
    public async Task Identifiers_that_pass_the_Luhn_check_are_kept_and_an_authorization_alone_writes_no_raw_copy()
    {
        // Issue 11: Luhn-valid order and action identifiers were masked as cards, and every ExecuteTool
        // wrote a raw-payload row because its signed authorization was masked as a credential.
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        const string order = "ORD-4111111111111111";
        var ticket = await support.RunAsync("ticketing", new
        {
            method = "POST",
            url = Url("/ticketing/tickets"),
            body = new { title = $"Refund for {order}", orderId = order, ticketId = "4111111111111111", card = "4111 1111 1111 1111" },
        }, "run-luhn-ids", TimeSpan.FromSeconds(20), intent: $"open a ticket about order {order}");
        Assert.NotNull(ticket.Succeeded);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @id AND event_type IN ('ActionProposed', 'ExecuteTool')", new { id = ticket.ActionId }) == 2,
            "the proposal and its authorization in the audit");
        var payloads = await fixture.QueryAsync<(string EventType, string Payload)>(
            "SELECT event_type, payload FROM audit_events WHERE action_id = @id AND event_type IN ('ActionProposed', 'ExecuteTool')", new { id = ticket.ActionId });
        foreach (var (_, payload) in payloads)
        {
            var body = JsonDocument.Parse(payload).RootElement.GetProperty("arguments").GetProperty("body");
            Assert.Equal(order, body.GetProperty("orderId").GetString());
            Assert.Equal("4111111111111111", body.GetProperty("ticketId").GetString());
            Assert.Equal($"Refund for {order}", body.GetProperty("title").GetString());
            Assert.Equal("[redacted:pii.card]", body.GetProperty("card").GetString());
        }
        var authorization = JsonDocument.Parse(payloads.Single(p => p.EventType == "ExecuteTool").Payload).RootElement.GetProperty("authorization");
        Assert.False(string.IsNullOrEmpty(authorization.GetProperty("signature").GetString()));

        // The card makes a raw copy of the proposal and of the command; a command without one has none.
        var plain = await support.RunAsync("ticketing", new { method = "POST", url = Url("/ticketing/tickets"), body = new { title = order } },
            "run-luhn-ids", TimeSpan.FromSeconds(20));
        Assert.NotNull(plain.Succeeded);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @id AND event_type = 'ExecuteTool'", new { id = plain.ActionId }) == 1, "the authorization");
        Assert.Equal(0, await fixture.CountAsync(
            "SELECT count(*) FROM audit_raw_payloads r JOIN audit_events e USING (event_id) WHERE e.action_id = @id", new { id = plain.ActionId }));
    }

    [Fact]
    public async Task An_action_allowed_at_once_has_its_decision_recorded_from_the_command_and_tied_to_the_proposal()
    {
        await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");
        var actionId = Guid.CreateVersion7().ToString();
        var messageId = await agent.PublishAsync(RawAgent.Proposal("support-bot", "ticketing",
            new { method = "POST", url = Url("/ticketing/tickets"), body = new { title = "tied" } }, actionId, "run-tied"));

        // The agent's only reply is the outcome; the audit still has the decision, under the proposal's message id.
        Assert.Equal(nameof(ActionSucceeded), (await agent.AnswerForAsync(messageId, actionId)).Type);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE correlation_id = @messageId", new { messageId }) == 3, "the proposal, its decision and its authorization");
        var rows = await fixture.QueryAsync<(string EventType, string Outcome, string? RuleId, string Actor)>(
            "SELECT event_type, outcome, rule_id, actor FROM audit_events WHERE correlation_id = @messageId ORDER BY seq", new { messageId });
        // The proposal comes from its own queue, so only the command's two rows have an order between them.
        Assert.Equal(["ActionDecided", "ExecuteTool"], rows.Select(r => r.EventType).Where(t => t != "ActionProposed"));
        Assert.Contains(("ActionDecided", "allowed", "support-bot-tickets", "policy"), rows);
        Assert.DoesNotContain(await agent.DrainAsync(), reply => reply.TryGetProperty("decision", out _));
    }

    [Fact]
    public async Task An_unreadable_proposal_is_recorded_with_its_rejection_and_its_bytes()
    {
        await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");
        var body = "this is not json \u0000"u8.ToArray();
        var messageId = await agent.PublishAsync(body);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE correlation_id = @messageId", new { messageId }) == 2, "the proposal and its decision");
        var rows = await fixture.QueryAsync<(string EventType, string Outcome, string ReasonCode, string AgentId)>(
            "SELECT event_type, outcome, reason_code, agent_id FROM audit_events WHERE correlation_id = @messageId ORDER BY event_type DESC",
            new { messageId });
        Assert.Equal(("ActionProposed", "malformed", ReasonCodes.InvalidJson, "support-bot"), rows[0]);
        Assert.Equal(("ActionDecided", "denied", ReasonCodes.InvalidJson, "support-bot"), rows[1]);
        var raw = await fixture.QueryAsync<byte[]>("""
            SELECT r.payload FROM audit_raw_payloads r JOIN audit_events e USING (event_id)
            WHERE e.correlation_id = @messageId AND e.event_type = 'ActionProposed'
            """, new { messageId });
        Assert.Equal(body, Assert.Single(raw));
    }

    [Fact]
    public async Task A_run_report_counts_only_for_the_agent_that_sent_it()
    {
        var factory = fixture.ConnectionFactoryFor("support-bot");
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));

        async Task Report(string json, string? userId = "support-bot")
        {
            var properties = new BasicProperties { ContentType = WireNames.ContentType, MessageId = Guid.NewGuid().ToString(), Type = nameof(RunCompleted) };
            if (userId is not null)
                properties.UserId = userId;
            await channel.BasicPublishAsync(WireNames.RunReportsExchange, "", true, properties, Encoding.UTF8.GetBytes(json));
        }

        await Report("""{"runId":"run-spoof","agentId":"intern-bot","succeeded":true}""");
        await Report("""{"runId":"run-anon","agentId":"support-bot","succeeded":true}""", userId: null);
        await Report("""{"runId":5,"agentId":"support-bot","succeeded":true}""");
        await Report("""{"runId":"run-own","agentId":"support-bot","succeeded":false,"summary":"gave up"}""");
        await Report("""{"runId":"run-nobody","succeeded":true}""");

        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE event_type = 'RunCompleted'") == 5,
            "five run reports in the audit");
        var rows = (await fixture.QueryAsync<(string? RunId, string Outcome, string? ReasonCode)>(
            "SELECT run_id, outcome, reason_code FROM audit_events WHERE event_type = 'RunCompleted'")).ToHashSet();
        Assert.Contains(("run-spoof", "rejected", ReasonCodes.IdentityMismatch), rows);
        Assert.Contains(("run-anon", "rejected", ReasonCodes.IdentityMissing), rows);
        Assert.Contains((null, "malformed", ReasonCodes.InvalidFieldType), rows);
        Assert.Contains(("run-own", "failed", null), rows);
        Assert.Contains(("run-nobody", "rejected", ReasonCodes.MissingField), rows);

        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM run_summaries WHERE run_id IN ('run-spoof', 'run-anon', 'run-nobody')"));
        var (exit, output) = await AuditFixture.CliAsync("audit", "events", "--type", "RunCompleted", "--agent", "support-bot", "--postgres",
            fixture.ConnectionString);
        Assert.Equal(0, exit);
        Assert.Contains("identity_mismatch", output);
        Assert.Contains("4 row(s).", output);
        var own = await fixture.QueryAsync<(bool Succeeded, string Summary)>(
            "SELECT succeeded, completion_summary FROM run_summaries WHERE run_id = 'run-own' AND agent_id = 'support-bot'");
        Assert.Equal((false, "gave up"), Assert.Single(own));
    }

    [Fact]
    public async Task Events_that_arrive_while_the_database_refuses_them_are_recorded_once_it_accepts_them_again()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        await fixture.ExecuteAsync(fixture.Superuser, "REVOKE INSERT ON audit_events FROM agentbus_projections");
        try
        {
            await support.CompleteRunAsync("run-retry", succeeded: true);
            await Task.Delay(600);
            Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE run_id = 'run-retry'"));
        }
        finally
        {
            await fixture.ExecuteAsync(fixture.Superuser, "GRANT INSERT ON audit_events TO agentbus_projections");
        }

        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE run_id = 'run-retry'") == 1,
            "the run report, once the database takes it");
        Assert.Equal(0, await fixture.QueueDepthAsync(WireNames.ProjectionsRunReportsQueue + "_error"));
    }

    [Fact]
    public async Task A_redelivered_message_never_becomes_a_second_row()
    {
        var factory = fixture.ConnectionFactoryFor("intern-bot");
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var actionId = Guid.CreateVersion7().ToString();
        var body = Encoding.UTF8.GetBytes(RawAgent.Proposal("intern-bot", "payments", new { method = "POST", url = Url("/payments/refunds") }, actionId));
        var properties = new BasicProperties
        {
            ContentType = WireNames.ContentType,
            MessageId = Guid.NewGuid().ToString(),
            UserId = "intern-bot",
            Type = nameof(ActionProposed),
            DeliveryMode = DeliveryModes.Persistent,
        };

        // The same message twice, as a broker redelivers it: the policy service decides it twice
        // (same decision message id), the audit reads the proposal twice.
        await channel.BasicPublishAsync(WireNames.ProposalsExchange, "", true, properties, body);
        await channel.BasicPublishAsync(WireNames.ProposalsExchange, "", true, properties, body);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type IN ('ActionProposed', 'ActionDecided')", new { actionId }) == 2,
            "the proposal and its decision");
        foreach (var queue in new[] { WireNames.PolicyProposalsQueue, WireNames.ProjectionsQueue, WireNames.ProjectionsProposalsQueue })
            await Eventually.True(async () => await fixture.QueueDepthAsync(queue) == 0, $"{queue} drained");
        await Task.Delay(300);

        Assert.Equal(1, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionDecided'", new { actionId }));
        Assert.Equal(1, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionProposed'", new { actionId }));
        Assert.Equal(1, await fixture.CountAsync("SELECT actions_denied FROM run_summaries WHERE run_id = 'run-raw' AND agent_id = 'intern-bot'"));
    }
}
