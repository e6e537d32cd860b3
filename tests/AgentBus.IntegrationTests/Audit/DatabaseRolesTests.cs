using System.Security.Cryptography;
using AgentBus.Audit;
using AgentBus.Audit.Chain;
using AgentBus.Audit.Redaction;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Database;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>
/// A database set up the way ops/run.sh does it: owned by a plain login (no superuser, no CREATEROLE)
/// that applies the migrations from the CLI, the cluster roles and one login per service made by
/// `agentbus db roles --logins`, and the services connecting as those logins. The logins are
/// cluster-wide, so their names carry this fixture's prefix and they are dropped afterwards.
/// </summary>
public sealed class DatabaseRolesFixture : IAsyncLifetime
{
    readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    readonly string _ownerPassword = RandomNumberGenerator.GetString("abcdefghijkmnopqrstuvwxyz23456789", 24);
    readonly string _work = Directory.CreateTempSubdirectory("agentbus-roles-").FullName;
    readonly List<NpgsqlDataSource> _dataSources = [];

    public TestServers Servers { get; private set; } = null!;
    public string Database => $"agentbus_roles_{_suffix}";
    public string Owner => $"agentbus_t_dbowner_{_suffix}";
    public string Prefix => $"agentbus-t{_suffix}-";
    public string SecretsDirectory => Path.Combine(_work, "secrets");
    public string PolicyFile => Path.Combine(_work, "policy.yaml");
    public string AnchorFile => Path.Combine(_work, "anchors");

    /// <summary>The database as its owner: what `agentbus db migrate` and the CLI use.</summary>
    public string OwnerConnectionString => new NpgsqlConnectionStringBuilder(Servers.PostgresAdmin)
    {
        Database = Database, Username = Owner, Password = _ownerPassword,
    }.ConnectionString;

    /// <summary>The database as the cluster's superuser (for resets only).</summary>
    public string AdminConnectionString => new NpgsqlConnectionStringBuilder(Servers.PostgresAdmin) { Database = Database }.ConnectionString;

    public string Login(string service) => Prefix + service;

    public string PasswordFile(string service) => DatabaseLogins.PasswordFileFor(SecretsDirectory, Login(service));

    /// <summary>The database as a service's login, with the password `db roles` wrote for it.</summary>
    public string ConnectionStringFor(string service) => new NpgsqlConnectionStringBuilder(Servers.PostgresAdmin)
    {
        Database = Database, Username = Login(service), Password = File.ReadAllText(PasswordFile(service)).Trim(),
    }.ConnectionString;

    public NpgsqlDataSource DataSourceFor(string service)
    {
        var dataSource = NpgsqlDataSource.Create(ConnectionStringFor(service));
        _dataSources.Add(dataSource);
        return dataSource;
    }

    public string[] RolesArguments => ["db", "roles", "--postgres", Servers.PostgresAdmin, "--logins", "--policy", PolicyFile,
        "--secrets-dir", SecretsDirectory, "--login-prefix", Prefix];

    public async Task InitializeAsync()
    {
        Servers = await TestServers.StartAsync();
        await File.WriteAllTextAsync(PolicyFile, PipelineFixture.DefaultPolicyYaml);
        await using (var admin = new NpgsqlConnection(Servers.PostgresAdmin))
        {
            await admin.ExecuteAsync($"CREATE ROLE \"{Owner}\" LOGIN PASSWORD '{_ownerPassword}'");
            await admin.ExecuteAsync($"CREATE DATABASE \"{Database}\" OWNER \"{Owner}\"");
        }

        var (exit, output) = await AuditFixture.CliAsync(RolesArguments);
        Assert.True(exit == 0, output);
        (exit, output) = await AuditFixture.CliAsync("db", "migrate", "--postgres", OwnerConnectionString);
        Assert.True(exit == 0, output);
    }

    /// <summary>An empty audit log (break-glass, as the superuser) and no anchors.</summary>
    public async Task ResetAsync()
    {
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.ExecuteAsync("SET agentbus.audit_break_glass = 'test reset'; " +
                                 "TRUNCATE audit_events, audit_chain_head, audit_raw_payloads, run_summaries, approval_sagas, execution_claims");
        File.Delete(AnchorFile);
    }

    public async Task DisposeAsync()
    {
        foreach (var dataSource in _dataSources)
            await dataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using (var admin = new NpgsqlConnection(Servers.PostgresAdmin))
        {
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{Database}\" WITH (FORCE)");
            var logins = await admin.QueryAsync<string>("SELECT rolname FROM pg_roles WHERE starts_with(rolname, @prefix)", new { prefix = Prefix });
            foreach (var role in logins.Append(Owner))
                await admin.ExecuteAsync($"DROP ROLE IF EXISTS \"{role}\"");
        }
        await Servers.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }
}

/// <summary>
/// Issue 11: services cannot touch the audit beyond appending (projections) or reading (approvals'
/// run story), and a rewrite by the owner, who can, is caught by an anchor kept outside the database.
/// </summary>
public sealed class DatabaseRolesTests(DatabaseRolesFixture fixture) : IClassFixture<DatabaseRolesFixture>, IAsyncLifetime
{
    public static readonly string[] Services = ["policy", "projections", "approvals", "executor-ticketing", "executor-payments", "auditor", "console"];

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    static readonly DateTimeOffset Now = DateTimeOffset.UtcNow.AddMinutes(-5);

    AuditStore Writer() => new(fixture.DataSourceFor("projections"), AuditRedactor.Default, Options.Create(new AuditOptions()), TimeProvider.System,
        NullLogger<AuditStore>.Instance);

    /// <summary>Decisions 1..count, every seventh denied (row 7 is the one worth forging).</summary>
    async Task SeedAsync(AuditStore writer, int from, int count)
    {
        for (var i = from; i < from + count; i++)
            Assert.True(await writer.RecordAsync(AuditSeed.Decided($"action-{i}", "run-roles", "support-bot", "payments",
                i % 7 == 0 ? Decision.Denied : Decision.Allowed, Now.AddSeconds(i)), CancellationToken.None));
    }

    static async Task<PostgresException> RefusedAsync(NpgsqlDataSource dataSource, string sql)
    {
        var error = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var command = dataSource.CreateCommand(sql);
            await command.ExecuteNonQueryAsync();
        });
        Assert.True(error.SqlState == PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {error.SqlState} {error.MessageText}");
        return error;
    }

    [Fact]
    public async Task Each_service_has_its_own_login_in_its_own_group_only_with_a_private_password_file()
    {
        var before = Services.ToDictionary(s => s, s => File.ReadAllBytes(fixture.PasswordFile(s)));
        var (exit, output) = await AuditFixture.CliAsync(fixture.RolesArguments);
        Assert.True(exit == 0, output);

        await using var admin = new NpgsqlConnection(fixture.Servers.PostgresAdmin);
        foreach (var service in Services)
        {
            var file = fixture.PasswordFile(service);
            Assert.Equal(before[service], File.ReadAllBytes(file)); // a second run keeps every password
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            Assert.All(before[service], b => Assert.InRange(b, (byte)0x21, (byte)0x7e)); // ASCII, no BOM, no newline

            var group = "agentbus_" + (service.StartsWith("executor-", StringComparison.Ordinal) ? "executor" : service);
            var role = await admin.QuerySingleAsync<(bool Super, bool CreateRole, bool CreateDb, bool Login, string[] Groups)>("""
                SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
                       ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)
                FROM pg_roles r WHERE r.rolname = @name
                """, new { name = fixture.Login(service) });
            Assert.Equal((false, false, false, true), (role.Super, role.CreateRole, role.CreateDb, role.Login));
            Assert.Equal([group], role.Groups);

            // It logs in with that password and owns nothing in the database.
            await using var connection = new NpgsqlConnection(fixture.ConnectionStringFor(service));
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("""
                SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
                     + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) + (SELECT count(*) FROM pg_database WHERE datdba = r.oid)
                FROM pg_roles r WHERE r.rolname = current_user
                """));
        }
    }

    public static TheoryData<string> EveryService() => new(Services);

    [Theory]
    [MemberData(nameof(EveryService))]
    public async Task No_service_login_can_change_remove_or_unprotect_audit_rows(string service)
    {
        await SeedAsync(Writer(), 1, 3);
        var db = fixture.DataSourceFor(service);
        foreach (var sql in new[]
                 {
                     "UPDATE audit_events SET outcome = 'allowed' WHERE seq = 1",
                     "DELETE FROM audit_events WHERE seq = 3",
                     "TRUNCATE audit_events",
                     "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                     "ALTER TABLE audit_events DISABLE TRIGGER ALL",
                     "ALTER TABLE audit_events ADD COLUMN note text",
                     "DROP TABLE audit_events CASCADE",
                     "SET session_replication_role = replica",
                     "UPDATE audit_chain_head SET last_seq = 1",
                     "DELETE FROM audit_chain_head",
                     "SELECT * FROM audit_raw_payloads",
                     "ALTER FUNCTION audit_refuse_change() SET search_path = pg_temp",
                     "CREATE TABLE public.audit_shadow (seq bigint)",
                     "CREATE OR REPLACE FUNCTION public.audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
                 })
            await RefusedAsync(db, sql);

        // Only the projections append; approvals and the auditors read.
        var insert = $"INSERT INTO audit_events (seq, event_id, event_type, outcome, payload, occurred_at, prev_hash, hash) " +
                     $"VALUES (4, '{Guid.NewGuid()}', 'Forged', 'allowed', '{{}}', now(), '\\x{new string('0', 64)}', '\\x{new string('0', 64)}')";
        if (service == "projections")
        {
            // It may append (that row then fails verification, beyond the head), but never read back what it wrote.
            await RefusedAsync(db, "SELECT payload FROM audit_events");
            await RefusedAsync(db, "UPDATE audit_chain_head SET last_seq = 0");
        }
        else
            await RefusedAsync(db, insert);

        await using (var admin = new NpgsqlConnection(fixture.AdminConnectionString))
            Assert.Equal(3, await admin.ExecuteScalarAsync<long>("SELECT count(*) FROM audit_events WHERE event_type <> 'Forged'"));
        await using var owner = NpgsqlDataSource.Create(fixture.OwnerConnectionString);
        Assert.True((await AuditVerifier.VerifyAsync(owner)).Intact);
    }

    [Theory]
    [InlineData("policy", "SELECT count(*) FROM policy_suspensions; SELECT count(*) FROM policy_actions; SELECT count(*) FROM cost_ledger; " +
                          "DELETE FROM policy_rate_windows WHERE false; DELETE FROM policy_idempotency WHERE false; " +
                          "SELECT action_id FROM policy_outcome_copies FOR UPDATE SKIP LOCKED; DELETE FROM policy_outcome_copies WHERE false; " +
                          "INSERT INTO policy_pending_authorizations VALUES ('a', gen_random_uuid(), NULL, '{}', now()) ON CONFLICT DO NOTHING; " +
                          "SELECT policy_outcome_payload('a')",
        new[] { "SELECT * FROM approvers", "SELECT * FROM audit_events", "INSERT INTO policy_suspensions VALUES ('agent', 'x', 'me', null, now())",
                "SELECT * FROM execution_claims", "SELECT * FROM approval_sagas", "DELETE FROM cost_ledger",
                "DELETE FROM policy_pending_authorizations", "SELECT * FROM policy_take_authorizations('{a}', NULL, 1)" })]
    [InlineData("approvals", "SELECT count(*) FROM approvers; SELECT count(*) FROM approval_sagas; SELECT count(*) FROM audit_events; " +
                             "SELECT count(*) FROM run_summaries",
        new[] { "INSERT INTO approvers (name, groups, token_hash) VALUES ('mallory', '{g}', '\\x00')", "UPDATE approvers SET revoked_at = NULL",
                "SELECT * FROM policy_actions", "SELECT * FROM cost_ledger", "SELECT * FROM execution_claims",
                "SELECT policy_record_outcome('a', 'T', 'succeeded', 'T', '{}', 0, now())" })]
    [InlineData("executor-payments", "SELECT count(*) FROM execution_claims; SELECT count(*) FROM kill_switch",
        new[] { "SELECT * FROM approvers", "SELECT * FROM policy_actions", "SELECT * FROM audit_events", "DELETE FROM policy_suspensions",
                "SELECT * FROM policy_suspensions", "INSERT INTO kill_switch VALUES ('agent', 'x', now())", "DELETE FROM kill_switch",
                "SELECT * FROM cost_ledger", "UPDATE budget_usage SET spent_usd = 0", "DELETE FROM execution_resolutions",
                "SELECT policy_settle_outcomes('{a}', '{payments}', '{succeeded}', '{ActionSucceeded}', '{x}', '{0}', now())",
                "SELECT * FROM policy_take_authorizations('{a}', NULL, 1)", "SELECT * FROM policy_pending_authorizations",
                "SELECT policy_outcome_payload('a')" })]
    [InlineData("projections", "SELECT count(*) FROM run_summaries; SELECT last_seq FROM audit_chain_head; " +
                               "SELECT policy_settle_outcomes('{}', '{}', '{}', '{}', '{}', '{}', now()); " +
                               "SELECT * FROM policy_take_authorizations('{}', NULL, 1)",
        new[] { "SELECT * FROM approvers", "SELECT * FROM policy_actions", "SELECT * FROM cost_ledger", "SELECT * FROM execution_claims",
                "DELETE FROM run_summaries", "SELECT * FROM approval_sagas", "SELECT policy_record_outcome('a', 'T', 'succeeded', 'T', '{}', 0, now())",
                "SELECT * FROM policy_outcome_copies", "SELECT * FROM policy_pending_authorizations",
                "INSERT INTO policy_pending_authorizations VALUES ('x', gen_random_uuid(), NULL, '{}', now())",
                "SELECT policy_keep_authorization('x', gen_random_uuid(), NULL, '{}', now())", "SELECT policy_outcome_payload('a')" })]
    [InlineData("console", "SELECT count(*) FROM audit_events; SELECT count(*) FROM policy_actions; SELECT count(*) FROM approvers; " +
                           "INSERT INTO policy_suspensions VALUES ('agent', 'console-test', 'me', null, now()); " +
                           "DELETE FROM policy_suspensions WHERE name = 'console-test'",
        new[] { "SELECT * FROM audit_raw_payloads", "UPDATE policy_suspensions SET suspended_by = 'someone else'", "DELETE FROM policy_actions",
                "INSERT INTO approvers (name, groups, token_hash) VALUES ('mallory', '{console-operators}', '\\x00')",
                "UPDATE approvers SET groups = '{console-operators}'", "UPDATE budget_usage SET spent_usd = 0", "DELETE FROM cost_ledger",
                "DELETE FROM execution_claims", "INSERT INTO execution_resolutions (action_id, state, resolved_by, evidence) VALUES ('a', 'failed', 'm', 'e')" })]
    public async Task A_service_login_reaches_its_own_tables_and_not_the_others(string service, string allowed, string[] refused)
    {
        var db = fixture.DataSourceFor(service);
        await using (var command = db.CreateCommand(allowed))
            await command.ExecuteNonQueryAsync();
        foreach (var sql in refused)
            await RefusedAsync(db, sql);
    }

    [Fact]
    public async Task An_executors_login_sees_and_writes_only_its_own_tools_claims()
    {
        const string insert = """
            INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token)
            VALUES ('{0}', '{1}', 'run-roles', 'support-bot', 'h', 'running', 'exec-1', gen_random_uuid())
            """;
        await using (var admin = new NpgsqlConnection(fixture.AdminConnectionString))
            await admin.ExecuteAsync(string.Format(insert, "ticketing-claim", "ticketing"));
        var payments = fixture.DataSourceFor("executor-payments");
        var ticketing = fixture.DataSourceFor("executor-ticketing");

        static async Task<long> VisibleAsync(NpgsqlDataSource db)
        {
            await using var connection = await db.OpenConnectionAsync();
            return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM execution_claims");
        }

        static async Task<int> ChangedAsync(NpgsqlDataSource db, string sql)
        {
            await using var connection = await db.OpenConnectionAsync();
            return await connection.ExecuteAsync(sql);
        }

        // Another tool's claim is not there for this login: not to read, finish, forge or remove.
        Assert.Equal(0, await VisibleAsync(payments));
        Assert.Equal(0, await ChangedAsync(payments, "UPDATE execution_claims SET state = 'succeeded', outcome = '{}'::json WHERE action_id = 'ticketing-claim'"));
        Assert.Equal(0, await ChangedAsync(payments, "DELETE FROM execution_claims WHERE action_id = 'ticketing-claim'"));
        await RefusedAsync(payments, string.Format(insert, "forged-ticketing-claim", "ticketing"));

        // Its own tool's, and for the ticketing login the one it holds, as before.
        Assert.Equal(1, await ChangedAsync(payments, string.Format(insert, "payments-claim", "payments")));
        Assert.Equal(1, await VisibleAsync(payments));
        await RefusedAsync(payments, "UPDATE execution_claims SET tool = 'ticketing'");
        Assert.Equal(1, await ChangedAsync(ticketing, "UPDATE execution_claims SET heartbeat_at = now() WHERE action_id = 'ticketing-claim'"));
        Assert.Equal(2, await VisibleAsync(fixture.DataSourceFor("auditor")));
    }

    [Fact]
    public async Task The_projections_login_writes_the_chain_and_purges_raw_payloads()
    {
        var writer = Writer();
        await SeedAsync(writer, 1, 5);
        var arguments = AuditSeed.Args("POST", new { password = "hunter2-secret" });
        Assert.Equal(1, await writer.AppendAsync([AuditSeed.Proposed("a-raw", "run-roles", "support-bot", "ticketing", arguments, Now)],
            CancellationToken.None));
        Assert.Equal(0, await RawPayloads.PurgeExpiredAsync(fixture.DataSourceFor("projections")));

        await using var owner = NpgsqlDataSource.Create(fixture.OwnerConnectionString);
        var verification = await AuditVerifier.VerifyAsync(owner);
        Assert.True(verification.Intact);
        Assert.Equal(6, verification.HeadSeq);
    }

    /// <summary>What the issue describes: the owner flips a denied decision to allowed and recomputes chain and head.</summary>
    const string OwnerRewritesRow7 = """
        ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
        UPDATE audit_events SET outcome = 'allowed', reason_code = 'granted', payload = replace(payload, '"denied"', '"allowed"') WHERE seq = 7;
        DO $$
        DECLARE
            r audit_events;
            previous bytea;
        BEGIN
            SELECT hash INTO previous FROM audit_events WHERE seq = 6;
            FOR r IN SELECT * FROM audit_events WHERE seq >= 7 ORDER BY seq LOOP
                UPDATE audit_events SET prev_hash = previous, hash = audit_event_hash(previous, r) WHERE seq = r.seq;
                previous := audit_event_hash(previous, r);
            END LOOP;
            UPDATE audit_chain_head SET last_hash = previous, updated_at = now() WHERE id = 1;
        END
        $$;
        ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
        """;

    /// <summary>The owner cuts the last rows off and winds the head back onto what is left.</summary>
    const string OwnerCutsTheTail = """
        ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
        ALTER TABLE audit_chain_head DISABLE TRIGGER audit_chain_head_forward;
        DELETE FROM audit_events WHERE seq > 12;
        UPDATE audit_chain_head SET last_seq = 12, last_hash = (SELECT hash FROM audit_events WHERE seq = 12) WHERE id = 1;
        ALTER TABLE audit_chain_head ENABLE TRIGGER audit_chain_head_forward;
        ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
        """;

    [Theory]
    [InlineData(OwnerRewritesRow7, "First: row #10 rewritten", "rows #6–#10 were changed after it was taken")]
    [InlineData(OwnerCutsTheTail, "First: row #13 deleted", "row #15 was anchored at")]
    public async Task A_rewrite_by_the_owner_passes_the_chain_but_not_the_anchor(string rewrite, string first, string detail)
    {
        var writer = Writer();
        // Anchored after rows 5, 10 and 15, as a periodic `agentbus audit anchor` would, with the read-only login.
        var auditor = fixture.ConnectionStringFor("auditor");
        foreach (var from in new[] { 1, 6, 11 })
        {
            await SeedAsync(writer, from, 5);
            var (anchored, said) = await AuditFixture.CliAsync("audit", "anchor", "--out", fixture.AnchorFile, "--postgres", auditor);
            Assert.True(anchored == 0, said);
        }
        Assert.Equal(3, AuditAnchors.Read(fixture.AnchorFile).Count);
        Assert.Equal(0, (await AuditFixture.CliAsync("audit", "verify", "--anchor", fixture.AnchorFile, "--postgres", auditor)).Exit);

        // The owner needs no superuser for this: it owns the table and the triggers.
        await using (var owner = new NpgsqlConnection(fixture.OwnerConnectionString))
            await owner.ExecuteAsync(rewrite);

        // The chain alone cannot tell: it was recomputed with the database's own function.
        var (exit, output) = await AuditFixture.CliAsync("audit", "verify", "--postgres", auditor);
        Assert.True(exit == 0, output);
        Assert.Contains("Audit chain intact", output);

        (exit, output) = await AuditFixture.CliAsync("audit", "verify", "--anchor", fixture.AnchorFile, "--postgres", auditor);
        Assert.True(exit == 3, output);
        Assert.Contains(first, output);
        Assert.Contains(detail, output);

        // And nobody can anchor the rewritten chain as if it were the one written.
        var lines = await File.ReadAllTextAsync(fixture.AnchorFile);
        (exit, output) = await AuditFixture.CliAsync("audit", "anchor", "--out", fixture.AnchorFile, "--postgres", auditor);
        Assert.True(exit == 3, output);
        Assert.Contains("Not anchored", output);
        Assert.Equal(lines, await File.ReadAllTextAsync(fixture.AnchorFile));
    }

    [Fact]
    public async Task A_malformed_anchor_file_is_a_usage_error_naming_the_line()
    {
        await File.WriteAllTextAsync(fixture.AnchorFile, "# anchors\n5 not-a-hash 2026-01-01T00:00:00Z\n");
        var (exit, output) = await AuditFixture.CliAsync("audit", "verify", "--anchor", fixture.AnchorFile, "--postgres", fixture.OwnerConnectionString);
        Assert.Equal(2, exit);
        Assert.Contains($"{fixture.AnchorFile}:2", output);
    }

    public static TheoryData<string, string[]> Owners() => new()
    {
        { "platform", [] },
        { "projections", ["audit_chain_head", "audit_events", "audit_raw_payloads", "run_summaries"] },
        { "policy", ["budget_usage", "cost_ledger", "kill_switch", "policy_actions", "policy_approvals", "policy_idempotency", "policy_outcome_copies",
                     "policy_pending_authorizations", "policy_rate_windows", "policy_run_attempts", "policy_runs", "policy_shadow_counts", "policy_shadow_disagreements",
                     "policy_suspensions", "policy_version_periods", "policy_versions"] },
        { "executor", ["execution_claims"] },
        { "approvals", ["approval_sagas", "approvers"] },
        { "operations", ["dead_letter_archive", "execution_resolutions"] },
    };

    [Theory]
    [MemberData(nameof(Owners))]
    public async Task Each_owner_migrates_its_own_tables_alone_on_an_empty_database_and_the_rest_applies_after(string owner, string[] tables)
    {
        var migrations = AgentBus.Cli.Database.AgentBusSchema.All.Single(m => m.Owner == owner);
        await using var scratch = await ScratchDatabaseAsync(owner);

        await DatabaseMigrator.ApplyAsync(scratch.ConnectionString, NullLogger.Instance, [migrations]);
        Assert.Equal(tables, await scratch.TablesAsync());

        // Hosts start in any order: whatever one applied first, the whole schema still applies on top.
        await DatabaseMigrator.ApplyAsync(scratch.ConnectionString, NullLogger.Instance, AgentBus.Cli.Database.AgentBusSchema.All);
        Assert.Equal(Owners().SelectMany(o => (string[])o[1]).Order(StringComparer.Ordinal), await scratch.TablesAsync());
    }

    [Fact]
    public async Task A_database_migrated_when_all_migrations_lived_in_one_assembly_is_not_migrated_again()
    {
        await using var scratch = await ScratchDatabaseAsync("legacy");
        var all = AgentBus.Cli.Database.AgentBusSchema.All;
        await DatabaseMigrator.ApplyAsync(scratch.ConnectionString, NullLogger.Instance, all);
        await using (var connection = new NpgsqlConnection(scratch.ConnectionString))
            await connection.ExecuteAsync("UPDATE schemaversions SET scriptname = 'AgentBus.ServiceDefaults.Database.Migrations.' || scriptname");

        Assert.Empty(await DatabaseMigrator.ApplyAsync(scratch.ConnectionString, NullLogger.Instance, all));
        await using (var connection = new NpgsqlConnection(scratch.ConnectionString))
            Assert.DoesNotContain(await connection.QueryAsync<string>("SELECT scriptname FROM schemaversions"), name => name.Contains("AgentBus."));
    }

    async Task<ScratchDatabase> ScratchDatabaseAsync(string label)
    {
        var name = $"{fixture.Database}_{label}";
        await using (var admin = new NpgsqlConnection(fixture.Servers.PostgresAdmin))
            await admin.ExecuteAsync($"CREATE DATABASE \"{name}\" OWNER \"{fixture.Owner}\"");
        return new ScratchDatabase(fixture.Servers.PostgresAdmin,
            new NpgsqlConnectionStringBuilder(fixture.OwnerConnectionString) { Database = name }.ConnectionString, name);
    }

    sealed record ScratchDatabase(string AdminConnectionString, string ConnectionString, string Name) : IAsyncDisposable
    {
        public async Task<List<string>> TablesAsync()
        {
            await using var connection = new NpgsqlConnection(ConnectionString);
            return (await connection.QueryAsync<string>(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schemaversions'"))
                .Order(StringComparer.Ordinal).ToList();
        }

        public async ValueTask DisposeAsync()
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(AdminConnectionString);
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
        }
    }
}
