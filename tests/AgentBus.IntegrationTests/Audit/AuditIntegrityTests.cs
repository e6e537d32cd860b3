using AgentBus.Audit;
using AgentBus.Audit.Chain;
using AgentBus.Contracts;
using AgentBus.Projections.Audit;
using Npgsql;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>
/// The audit's guarantees at the database level: one gapless chain for every writer, tampering of
/// each kind named by the verifier, append-only for every role without break-glass, raw payloads
/// apart and purged.
/// </summary>
[Collection(AuditCollection.Name)]
public sealed class AuditIntegrityTests(AuditFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    static readonly DateTimeOffset Now = DateTimeOffset.UtcNow.AddMinutes(-5);

    async Task SeedAsync(int count)
    {
        var store = fixture.NewStore();
        for (var i = 0; i < count; i++)
            Assert.True(await store.RecordAsync(AuditSeed.Decided(Guid.CreateVersion7().ToString(), "run-chain", "support-bot", "ticketing",
                Decision.Allowed, Now.AddSeconds(i)), CancellationToken.None));
    }

    [Fact]
    public async Task Concurrent_writers_share_one_gapless_chain_that_the_database_recomputes_the_same_way()
    {
        var odd = new ActionSucceeded("a", "run-odd", "support-bot", "ticketing",
            System.Text.Json.JsonSerializer.SerializeToElement(new { note = "NUL\u0000 and \ud800 and é and 😀", n = 1e300 }),
            "RF-\u0000-1", 0.0000004m, 1, 1, Now);

        // Eight writers as eight projections instances would be: they share nothing but the database.
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var store = fixture.NewStore();
            for (var b = 0; b < 10; b++)
            {
                var batch = Enumerable.Range(0, 50).Select(i => (w + b + i) % 7 == 0
                    ? AuditEntry.From(Guid.NewGuid(), odd with { ActionId = Guid.NewGuid().ToString() })
                    : AuditSeed.Decided(Guid.NewGuid().ToString(), $"run-{w}", "support-bot", "ticketing", Decision.Denied, Now)).ToList();
                Assert.Equal(50, await store.AppendAsync(batch, CancellationToken.None));
            }
        })).ToList();
        await Task.WhenAll(writers);

        Assert.Equal(4000, await fixture.CountAsync("SELECT count(*) FROM audit_events"));
        Assert.Equal(4000, await fixture.CountAsync("SELECT max(seq) FROM audit_events"));
        Assert.Equal(4000, await fixture.CountAsync("SELECT last_seq FROM audit_chain_head"));
        Assert.Equal(0, await fixture.CountAsync("""
            SELECT count(*) FROM (SELECT prev_hash, lag(hash) OVER (ORDER BY seq) AS before, seq FROM audit_events) x
            WHERE seq > 1 AND prev_hash <> before
            """));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events a WHERE hash <> audit_event_hash(prev_hash, a)"));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE cost_usd IS NOT NULL AND cost_usd <> 0"));

        var verification = await AuditVerifier.VerifyAsync(fixture.Superuser);
        Assert.True(verification.Intact, string.Join("; ", verification.Problems.Select(p => p.Detail)));
        Assert.Equal(4000, verification.RowsChecked);
    }

    [Fact]
    public async Task A_redelivered_event_is_recorded_once_even_within_one_batch()
    {
        var store = fixture.NewStore();
        var entry = AuditSeed.Decided(Guid.NewGuid().ToString(), "run-dup", "support-bot", "ticketing", Decision.Allowed, Now);

        Assert.Equal(1, await store.AppendAsync([entry, entry, entry], CancellationToken.None));
        Assert.False(await store.RecordAsync(entry, CancellationToken.None));
        Assert.Equal(1, await store.AppendAsync([entry, AuditSeed.Decided("b", "run-dup", "support-bot", "ticketing", Decision.Allowed, Now)],
            CancellationToken.None));

        Assert.Equal(2, await fixture.CountAsync("SELECT count(*) FROM audit_events"));
        Assert.Equal(2, await fixture.CountAsync("SELECT actions_allowed FROM run_summaries WHERE run_id = 'run-dup'"));
    }

    public static TheoryData<string, ChainProblemKind, long> Tampering() => new()
    {
        { "UPDATE audit_events SET payload = '{\"tampered\":true}' WHERE seq = 5", ChainProblemKind.Edited, 5 },
        { "UPDATE audit_events SET outcome = 'denied' WHERE seq = 5; UPDATE audit_events a SET hash = audit_event_hash(prev_hash, a) WHERE seq = 5",
            ChainProblemKind.Edited, 5 },
        { "DELETE FROM audit_events WHERE seq = 5", ChainProblemKind.Deleted, 5 },
        { "DELETE FROM audit_events WHERE seq = 5; UPDATE audit_events SET seq = seq + 1000000 WHERE seq > 5; " +
          "UPDATE audit_events SET seq = seq - 1000001 WHERE seq > 1000000", ChainProblemKind.Deleted, 5 },
        { "UPDATE audit_events SET seq = CASE seq WHEN 5 THEN 1000006 ELSE 1000005 END WHERE seq IN (5, 6); " +
          "UPDATE audit_events SET seq = seq - 1000000 WHERE seq > 1000000", ChainProblemKind.Reordered, 5 },
        { "DELETE FROM audit_events WHERE seq = 10", ChainProblemKind.Deleted, 10 },
        { "DELETE FROM audit_events WHERE seq >= 9; UPDATE audit_chain_head SET last_seq = 8", ChainProblemKind.Edited, 8 },
    };

    [Theory]
    [MemberData(nameof(Tampering))]
    public async Task Verify_names_the_first_row_a_superuser_edited_deleted_or_reordered(string tamper, ChainProblemKind kind, long seq)
    {
        await SeedAsync(10);
        Assert.True((await AuditVerifier.VerifyAsync(fixture.Superuser)).Intact);

        // A superuser can switch triggers off; the chain still tells.
        await fixture.ExecuteAsync(fixture.Superuser, $"SET session_replication_role = replica; {tamper}; SET session_replication_role = origin;");

        var verification = await AuditVerifier.VerifyAsync(fixture.Superuser);
        Assert.False(verification.Intact);
        Assert.Equal((kind, seq), (verification.First!.Kind, verification.First.Seq));

        var (exit, output) = await AuditFixture.CliAsync("audit", "verify", "--postgres", fixture.ConnectionString);
        Assert.Equal(3, exit);
        Assert.Contains($"First: row #{seq} {kind.ToString().ToLowerInvariant()}", output);
    }

    [Fact]
    public async Task The_application_role_can_only_append()
    {
        await SeedAsync(2);
        foreach (var sql in new[]
                 {
                     "UPDATE audit_events SET outcome = 'x'",
                     "DELETE FROM audit_events",
                     "TRUNCATE audit_events",
                     "SET agentbus.audit_break_glass = 'trying'; DELETE FROM audit_events",
                     "SELECT * FROM audit_raw_payloads",
                     "DELETE FROM audit_raw_payloads",
                     "UPDATE audit_chain_head SET last_seq = 0",
                     "DELETE FROM audit_chain_head",
                 })
        {
            var error = await Assert.ThrowsAsync<PostgresException>(() => fixture.ExecuteAsync(fixture.App, sql));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
        }
        Assert.Equal(2, await fixture.CountAsync("SELECT count(*) FROM audit_events"));
    }

    [Fact]
    public async Task Even_the_owner_and_a_superuser_are_refused_without_break_glass()
    {
        await SeedAsync(2);
        await using var owner = NpgsqlDataSource.Create(fixture.OwnerConnectionString);
        await fixture.ExecuteAsync(fixture.Superuser, $"ALTER TABLE audit_events OWNER TO \"{fixture.OwnerRole}\"");
        try
        {
            foreach (var sql in new[] { "UPDATE audit_events SET outcome = 'x'", "DELETE FROM audit_events WHERE seq = 1", "TRUNCATE audit_events" })
            {
                var error = await Assert.ThrowsAsync<PostgresException>(() => fixture.ExecuteAsync(owner, sql));
                Assert.Contains("append-only", error.MessageText);
                error = await Assert.ThrowsAsync<PostgresException>(() => fixture.ExecuteAsync(fixture.Superuser, sql));
                Assert.Contains("append-only", error.MessageText);
            }

            // A reason alone is not enough for a role outside agentbus_audit_break_glass.
            await Assert.ThrowsAsync<PostgresException>(() =>
                fixture.ExecuteAsync(owner, "BEGIN; SET LOCAL agentbus.audit_break_glass = 'incident 42'; UPDATE audit_events SET outcome = 'x'; ROLLBACK;"));

            // The break-glass path: a member, with a reason, in a transaction (rolled back here).
            await fixture.ExecuteAsync(fixture.Superuser, $"GRANT agentbus_audit_break_glass TO \"{fixture.OwnerRole}\"");
            await fixture.ExecuteAsync(owner, "BEGIN; SET LOCAL agentbus.audit_break_glass = 'incident 42'; UPDATE audit_events SET outcome = 'x'; ROLLBACK;");
            await fixture.ExecuteAsync(fixture.Superuser, "BEGIN; SET LOCAL agentbus.audit_break_glass = 'incident 42'; DELETE FROM audit_events; ROLLBACK;");
        }
        finally
        {
            await fixture.ExecuteAsync(fixture.Superuser, $"REVOKE agentbus_audit_break_glass FROM \"{fixture.OwnerRole}\"");
            await fixture.ExecuteAsync(fixture.Superuser, "ALTER TABLE audit_events OWNER TO CURRENT_USER");
        }
        Assert.Equal(2, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE outcome = 'allowed'"));
        Assert.True((await AuditVerifier.VerifyAsync(fixture.Superuser)).Intact);
    }

    [Fact]
    public async Task Raw_payloads_are_readable_only_by_their_role_and_purged_once_expired()
    {
        var store = fixture.NewStore(new AuditOptions { RawPayloadRetention = TimeSpan.FromDays(1) });
        var arguments = AuditSeed.Args("POST", new { user = "ada", password = "hunter2-secret" });
        var first = AuditSeed.Proposed("a1", "run-raw", "support-bot", "ticketing", arguments, Now);
        var second = AuditSeed.Authorized("a1", "run-raw", "support-bot", "ticketing", arguments, Now);
        Assert.Equal(2, await store.AppendAsync([first, second], CancellationToken.None));

        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE payload LIKE '%hunter2%'"));
        Assert.Equal(2, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE payload LIKE '%\"password\":\"[redacted]\"%'"));

        await using var raw = NpgsqlDataSource.Create(fixture.RawConnectionString);
        await using (var read = raw.CreateCommand("SELECT convert_from(payload, 'UTF8') FROM audit_raw_payloads ORDER BY seq"))
        await using (var reader = await read.ExecuteReaderAsync())
            for (var i = 0; i < 2; i++)
            {
                Assert.True(await reader.ReadAsync());
                Assert.Contains("hunter2-secret", reader.GetString(0));
            }
        await Assert.ThrowsAsync<PostgresException>(() => fixture.ExecuteAsync(fixture.App, "SELECT * FROM audit_raw_payloads"));

        await fixture.ExecuteAsync(fixture.Superuser,
            $"UPDATE audit_raw_payloads SET expires_at = now() - interval '1 minute' WHERE event_id = '{first.EventId}'");
        Assert.Equal(1, await RawPayloads.PurgeExpiredAsync(fixture.App));
        Assert.Equal(0, await RawPayloads.PurgeExpiredAsync(fixture.App));
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM audit_raw_payloads"));
        Assert.Equal(1, await fixture.CountAsync($"SELECT count(*) FROM audit_raw_payloads WHERE event_id = '{second.EventId}'"));

        var (exit, output) = await AuditFixture.CliAsync("audit", "purge-raw", "--postgres", fixture.AppConnectionString);
        Assert.Equal(0, exit);
        Assert.Contains("Purged 0", output);
        Assert.True((await AuditVerifier.VerifyAsync(fixture.Superuser)).Intact);
    }

    [Fact]
    public async Task The_roles_command_is_idempotent()
    {
        var (exit, output) = await AuditFixture.CliAsync("db", "roles", "--postgres", fixture.Servers.PostgresAdmin);
        Assert.Equal(0, exit);
        Assert.Contains("Database roles are in place", output);
    }
}
