using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using Npgsql;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>
/// An executor's outcome is stored once, on its claim (migration 0790): settling it keeps only its
/// hash in policy_actions, and the policy reads it back through policy_outcome_payload, which refuses
/// a claim changed since. Each service connects with its own login here.
/// </summary>
[Collection(AuditCollection.Name)]
public sealed class OutcomeOnTheClaimTests(AuditFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    string Url(string path) => new Uri(fixture.SandboxUrl, path).ToString();

    sealed record Settled(string? Outcome, string? Payload, byte[]? Sha256);

    async Task<Settled?> SettledAsync(string actionId) =>
        (await fixture.QueryAsync<Settled>(
            "SELECT outcome AS Outcome, outcome_payload::text AS Payload, outcome_sha256 AS Sha256 FROM policy_actions WHERE action_id = @actionId",
            new { actionId })).SingleOrDefault();

    static async Task<string?> OutcomeAsPolicyReadsItAsync(NpgsqlDataSource policy, string actionId, bool strict = true)
    {
        await using var connection = await policy.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string?>("SELECT policy_outcome_payload(@actionId, @strict)", new { actionId, strict });
    }

    [Fact]
    public async Task An_executors_outcome_is_settled_as_its_claims_hash_and_a_replay_still_gets_the_outcome()
    {
        const string run = "run-claim-outcome";
        var arguments = new { method = "POST", url = Url("/ticketing/tickets"), body = new { title = "Printer on fire, caf\u00e9 floor" } };
        string actionId;
        string reference;
        await using (var agent = await fixture.ConnectAgentAsync("support-bot"))
        {
            var first = await agent.RunAsync("ticketing", arguments, run, TimeSpan.FromSeconds(20));
            actionId = first.ActionId;
            reference = first.Succeeded?.ExternalReference ?? throw new Xunit.Sdk.XunitException($"not succeeded: {first.Failed?.Error}");
        }

        var settled = await Eventually.Get(() => SettledAsync(actionId), s => s?.Outcome is not null, "the outcome settled");
        var claimed = (await fixture.QueryAsync<string>("SELECT outcome::text FROM execution_claims WHERE action_id = @actionId", new { actionId })).Single();
        Assert.Null(settled!.Payload);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(claimed)), settled.Sha256);

        await using var policy = fixture.LoginDataSource("policy");
        Assert.Equal(claimed, await OutcomeAsPolicyReadsItAsync(policy, actionId));

        // The same proposal again, from a client that never saw the first outcome: the policy answers
        // it from the claim.
        await using (var again = await fixture.ConnectAgentAsync("support-bot"))
        {
            await again.ProposeAsync("ticketing", arguments, run, actionId: actionId);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var replayed = await again.WaitAsync(actionId, timeout.Token);
            Assert.Equal(reference, replayed.Succeeded?.ExternalReference);
        }
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
    }

    [Fact]
    public async Task A_claim_changed_after_its_outcome_was_settled_is_refused_to_the_policy_not_read_as_the_outcome()
    {
        var actionId = Guid.CreateVersion7().ToString();
        var outcome = Refunded(actionId);
        await SeedAsync(actionId, "payments", JsonSerializer.Serialize(outcome, WireJson.Options));
        await fixture.NewStore().AppendAsync([AuditEntry.From(Guid.NewGuid(), outcome)], CancellationToken.None);
        Assert.Null((await SettledAsync(actionId))!.Payload);

        // What a foothold in an executor's database login could do: point the undo at another refund.
        await fixture.ExecuteAsync(fixture.Superuser,
            $"UPDATE execution_claims SET outcome = replace(outcome::text, 'RF-1', 'RF-2')::json WHERE action_id = '{actionId}'");

        await using var policy = fixture.LoginDataSource("policy");
        var refused = await Assert.ThrowsAsync<PostgresException>(() => OutcomeAsPolicyReadsItAsync(policy, actionId));
        Assert.Equal(PostgresErrorCodes.DataCorrupted, refused.SqlState);
        Assert.Contains(actionId, refused.MessageText);
        Assert.Null(await OutcomeAsPolicyReadsItAsync(policy, actionId, strict: false));
    }

    public static TheoryData<string, Func<string, string>> ClaimsThatDoNotHoldTheOutcome => new()
    {
        { "changed before it was settled", published => published.Replace("RF-1", "RF-9", StringComparison.Ordinal) },
        { "holding what jsonb cannot", published => published.Replace("\"RF-1\"", "\"RF-1 \\u0000\"", StringComparison.Ordinal) },
    };

    [Theory]
    [MemberData(nameof(ClaimsThatDoNotHoldTheOutcome))]
    public async Task An_outcome_its_claim_does_not_hold_as_published_is_kept_in_full(string because, Func<string, string> claimOf)
    {
        var actionId = Guid.CreateVersion7().ToString();
        var outcome = Refunded(actionId);
        await SeedAsync(actionId, "payments", claimOf(JsonSerializer.Serialize(outcome, WireJson.Options)));

        await fixture.NewStore().AppendAsync([AuditEntry.From(Guid.NewGuid(), outcome)], CancellationToken.None);

        var settled = (await SettledAsync(actionId))!;
        Assert.True(settled.Sha256 is null, because);
        Assert.Equal("RF-1", JsonDocument.Parse(settled.Payload!).RootElement.GetProperty("externalReference").GetString());
        await using var policy = fixture.LoginDataSource("policy");
        Assert.Equal("RF-1", JsonDocument.Parse((await OutcomeAsPolicyReadsItAsync(policy, actionId))!).RootElement.GetProperty("externalReference").GetString());
    }

    static ActionSucceeded Refunded(string actionId) =>
        new(actionId, "run-claim", "intern-bot", "payments", JsonSerializer.SerializeToElement(new { id = "RF-1" }), "RF-1", 0.01m, 12, 1,
            DateTimeOffset.UtcNow);

    /// <summary>An allowed action and its executor's finished claim, as the pipeline leaves them before the outcome is settled.</summary>
    async Task SeedAsync(string actionId, string tool, string claimedOutcome)
    {
        await using var connection = await fixture.Superuser.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            INSERT INTO policy_actions (action_id, agent_id, run_id, tool, arguments_hash, decision, reason_code, reason, decided_at)
            VALUES (@actionId, 'intern-bot', 'run-claim', @tool, 'h', 'allowed', 'allowed', 'test', now());
            INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token, finished_at,
                                          outcome_type, outcome_message_id, outcome)
            VALUES (@actionId, @tool, 'run-claim', 'intern-bot', 'h', 'succeeded', 'exec-1', gen_random_uuid(), now(),
                    'ActionSucceeded', gen_random_uuid(), CAST(@claimedOutcome AS json));
            """, new { actionId, tool, claimedOutcome });
    }
}
