using System.Text.Json;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>`agentbus actions unknown`: what waits for a person to check the system of record, instead of hand-written SQL.</summary>
[Collection(AuditCollection.Name)]
public sealed class ActionsUnknownTests(AuditFixture fixture) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await Claim("act-lost-refund", "payments", "refund", "support-bot", "outcome_unknown", "executor_lost", finishedMinutesAgo: 30, late: true);
        await Claim("act-lost-ticket", "ticketing", "create_ticket", "intern-bot", "outcome_unknown", "timeout", finishedMinutesAgo: 5);
        await Claim("act-done", "payments", "get_order", "support-bot", "succeeded", null, finishedMinutesAgo: 1);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Lists_only_outcome_unknown_actions_oldest_first_with_operation_and_cause()
    {
        var (exit, output) = await AuditFixture.CliAsync("actions", "unknown", "--postgres", fixture.ConnectionString, "--json");

        Assert.Equal(0, exit);
        var actions = JsonDocument.Parse(output).RootElement.EnumerateArray().ToList();
        Assert.Equal(["act-lost-refund", "act-lost-ticket"], actions.Select(a => a.GetProperty("actionId").GetString()));
        Assert.Equal("refund", actions[0].GetProperty("operation").GetString());
        Assert.Equal("executor_lost", actions[0].GetProperty("errorCode").GetString());
        Assert.Contains("late", actions[0].GetProperty("lateOutcome").GetString());
        Assert.Equal(JsonValueKind.Null, actions[1].GetProperty("lateOutcome").ValueKind);
    }

    [Fact]
    public async Task Filters_by_agent_and_tool_and_says_what_to_do_next()
    {
        var (exit, output) = await AuditFixture.CliAsync("actions", "unknown", "--postgres", fixture.ConnectionString, "--agent", "intern-bot");

        Assert.Equal(0, exit);
        Assert.Contains("act-lost-ticket", output);
        Assert.Contains("ticketing.create_ticket", output);
        Assert.DoesNotContain("act-lost-refund", output);
        Assert.Contains("may have happened", output);

        var (_, none) = await AuditFixture.CliAsync("actions", "unknown", "--postgres", fixture.ConnectionString, "--tool", "nothing-here");
        Assert.Contains("No action's outcome is unknown", none);
    }

    async Task Claim(string actionId, string tool, string operation, string agent, string state, string? errorCode, int finishedMinutesAgo, bool late = false)
    {
        var outcome = JsonSerializer.Serialize(new { actionId, errorCode, error = errorCode is null ? null : $"{errorCode} while calling {tool}", outcomeUnknown = errorCode is not null });
        await fixture.ExecuteAsync(fixture.Superuser, $"""
            INSERT INTO policy_actions (action_id, agent_id, run_id, tool, operation, arguments_hash, decision, reason_code, reason, decided_at)
            VALUES ('{actionId}', '{agent}', 'run-unknown', '{tool}', '{operation}', 'h', 'allowed', 'allowed', 'test', now());
            INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token, claimed_at, finished_at, outcome, late_outcome)
            VALUES ('{actionId}', '{tool}', 'run-unknown', '{agent}', 'h', '{state}', 'exec-1', gen_random_uuid(), now() - interval '1 hour',
                    now() - interval '{finishedMinutesAgo} minutes', '{outcome}', {(late ? "'{\"late\": true}'" : "NULL")});
            """);
    }
}
