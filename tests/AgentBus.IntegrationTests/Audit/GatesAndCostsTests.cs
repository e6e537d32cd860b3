using System.Text.Json;
using AgentBus.Audit.Gates;
using AgentBus.Audit.Reports;
using AgentBus.Projections.Audit;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>Gates and costs computed from an audit seeded through the real writer.</summary>
[Collection(AuditCollection.Name)]
public sealed class GatesAndCostsTests(AuditFixture fixture) : IAsyncLifetime
{
    const string Agent = "gate-bot";

    readonly string _directory = Directory.CreateTempSubdirectory("agentbus-gates-").FullName;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await File.WriteAllTextAsync(Path.Combine(_directory, "policy.yaml"), """
            agents: [{id: gate-bot, team: t}, {id: idle-bot, team: t}]
            tools: [{name: ticketing}, {name: lookup}]
            grants:
              - {id: g1, agent: gate-bot, tool: ticketing}
              - {id: g2, agent: gate-bot, tool: lookup}
              - {id: g3, agent: idle-bot, tool: ticketing}
            """);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    string Config(string targets) => WriteConfig($"""
        minRuns: 1
        readOnlyTools: [lookup]
        policy: policy.yaml
        targets:
        {targets}
        """);

    string WriteConfig(string yaml)
    {
        var path = Path.Combine(_directory, $"gates-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>
    /// Four finished runs of gate-bot on ticketing: a clean write, a failed write (reported failed),
    /// a read, and a write whose proposal is missing from the audit; plus a run nobody reported that
    /// is still fresh (not counted yet), and a report without any action (never counted).
    /// </summary>
    async Task SeedAsync()
    {
        var at = DateTimeOffset.UtcNow.AddMinutes(-30);
        var post = AuditSeed.Args("POST", new { title = "t" });
        var get = AuditSeed.Args("GET");
        var entries = new List<AuditEntry>();
        entries.AddRange(AuditSeed.Action("g-run-1", Agent, "ticketing", post, 0.10m, at));
        entries.Add(AuditSeed.Reported("g-run-1", Agent, true, at.AddSeconds(1)));
        entries.AddRange(AuditSeed.Action("g-run-2", Agent, "ticketing", post, 0m, at.AddSeconds(2), succeeded: false));
        entries.Add(AuditSeed.Reported("g-run-2", Agent, false, at.AddSeconds(3)));
        entries.AddRange(AuditSeed.Action("g-run-3", Agent, "ticketing", get, 0.10m, at.AddSeconds(4)));
        entries.AddRange(AuditSeed.Action("g-run-3", Agent, "lookup", get, 0.05m, at.AddSeconds(4)));
        entries.Add(AuditSeed.Reported("g-run-3", Agent, true, at.AddSeconds(5)));
        entries.AddRange(AuditSeed.Action("g-run-4", Agent, "ticketing", post, 0.10m, at.AddSeconds(6), proposal: false));
        entries.Add(AuditSeed.Reported("g-run-4", Agent, true, at.AddSeconds(7)));
        entries.AddRange(AuditSeed.Action("g-run-5", Agent, "ticketing", post, 0.10m, DateTimeOffset.UtcNow.AddMinutes(-1)));
        entries.Add(AuditSeed.Reported("g-run-fake", Agent, true, at));
        Assert.Equal(entries.Count, await fixture.NewStore().AppendAsync(entries, CancellationToken.None));
    }

    [Fact]
    public async Task The_gates_count_what_the_audit_shows_per_agent_and_tool()
    {
        await SeedAsync();
        var config = GateConfig.Load(Config("  completionRate: 0.7"));
        var grants = new[] { new GrantInfo(Agent, "ticketing", false), new GrantInfo(Agent, "lookup", false) };
        var facts = await new GateQuery(fixture.Superuser).GetAsync(DateTimeOffset.UtcNow.AddDays(-1), Agent, null, config, grants);

        var ticketing = facts.Single(f => f.Tool == "ticketing");
        // Runs 1-4 are finished (run 5 is fresh and unreported, the report-only run is no run); the
        // actions of all five are in the window.
        Assert.Equal(new GateFacts(Agent, "ticketing", Runs: 4, SuccessfulRuns: 3, CostUsd: 0.30m, WriteActions: 4, CriticalErrors: 1,
            Executions: 5, CompleteExecutions: 4, UnapprovedWriteGrants: 1), ticketing);
        var lookup = facts.Single(f => f.Tool == "lookup");
        Assert.Equal((1, 1, 0, 0, 0.05m), (lookup.Runs, lookup.SuccessfulRuns, lookup.WriteActions, lookup.UnapprovedWriteGrants, lookup.CostUsd));
        var all = facts.Single(f => f.Tool is null);
        Assert.Equal(new GateFacts(Agent, null, Runs: 4, SuccessfulRuns: 3, CostUsd: 0.35m, WriteActions: 4, CriticalErrors: 1,
            Executions: 6, CompleteExecutions: 5, UnapprovedWriteGrants: 1), all);
    }

    [Fact]
    public async Task The_gates_command_exits_0_when_every_gate_passes_and_3_when_one_fails()
    {
        await SeedAsync();
        var passing = Config("""
              completionRate: 0.7
              criticalErrorRate: 0.5
              costPerSuccessfulRunUsd: 0.2
              auditCoverage: 0.7
              unapprovedWriteGrants: 1
            """);
        var (exit, output) = await AuditFixture.CliAsync("gates", "--agent", Agent, "--since", "1d", "--config", passing, "--postgres", fixture.ConnectionString);
        Assert.True(exit == 0, output);
        Assert.Contains("All gates pass", output);
        Assert.Contains("75%", output);

        var failing = Config("""
              completionRate: 0.7
              auditCoverage: 1.0
            """);
        (exit, output) = await AuditFixture.CliAsync("gates", "--agent", Agent, "--since", "1d", "--config", failing, "--postgres", fixture.ConnectionString);
        Assert.Equal(3, exit);
        Assert.Contains("gate-bot/ticketing audit_coverage: failed (4 of 5 executions have proposal, decision, authorization and outcome)", output);

        (exit, output) = await AuditFixture.CliAsync("gates", "--agent", Agent, "--tool", "lookup", "--since", "1d", "--config", failing, "--json",
            "--postgres", fixture.ConnectionString);
        Assert.Equal(0, exit);
        var row = Assert.Single(JsonDocument.Parse(output).RootElement.GetProperty("rows").EnumerateArray());
        Assert.Equal("lookup", row.GetProperty("facts").GetProperty("tool").GetString());

        // An agent with a grant and no runs has no evidence: that does not pass a promotion check.
        (exit, output) = await AuditFixture.CliAsync("gates", "--agent", "idle-bot", "--since", "1d", "--config", failing, "--postgres", fixture.ConnectionString);
        Assert.Equal(3, exit);
        Assert.Contains("not enough data", output);
    }

    [Fact]
    public async Task Bad_gate_configuration_is_a_usage_error()
    {
        var (exit, output) = await AuditFixture.CliAsync("gates", "--config", WriteConfig("targets:\n  completionRate: 2"), "--postgres", fixture.ConnectionString);
        Assert.Equal(2, exit);
        Assert.Contains("completionRate must be a share between 0 and 1", output);
        (exit, _) = await AuditFixture.CliAsync("gates", "--config", Path.Combine(_directory, "missing.yaml"), "--postgres", fixture.ConnectionString);
        Assert.Equal(2, exit);
        (exit, output) = await AuditFixture.CliAsync("gates", "--since", "next tuesday", "--config", Config("  completionRate: 0.5"), "--postgres",
            fixture.ConnectionString);
        Assert.Equal(2, exit);
        Assert.Contains("--since 'next tuesday'", output);
    }

    /// <summary>
    /// What the policy service's cost ledger holds for the seeded runs: the tool calls settled at
    /// their actual cost, one reported inference charge, and entries that must not count (an open
    /// reservation, a released one).
    /// </summary>
    async Task SeedLedgerAsync()
    {
        await using var command = fixture.Superuser.CreateCommand("""
            INSERT INTO cost_ledger (source, agent_id, run_id, day, action_id, report_id, tool, category, status, reserved_usd, amount_usd, recorded_at)
            VALUES ('tool', @agent, 'g-run-1', current_date, 'l-1', NULL, 'ticketing', NULL, 'settled', 0.10, 0.10, now()),
                   ('inference', @agent, 'g-run-1', current_date, NULL, 'r-1', NULL, 'llm', 'settled', 0, 0.05, now()),
                   ('tool', @agent, 'g-run-3', current_date, 'l-3a', NULL, 'ticketing', NULL, 'settled', 0.10, 0.10, now()),
                   ('tool', @agent, 'g-run-3', current_date, 'l-3b', NULL, 'lookup', NULL, 'settled', 0.05, 0.05, now()),
                   ('tool', @agent, 'g-run-4', current_date, 'l-4', NULL, 'ticketing', NULL, 'settled', 0.10, 0.10, now()),
                   ('tool', @agent, 'g-run-5', current_date, 'l-5', NULL, 'ticketing', NULL, 'settled', 0.10, 0.10, now()),
                   ('tool', @agent, 'g-run-5', current_date, 'l-5b', NULL, 'ticketing', NULL, 'reserved', 0.10, 0, now()),
                   ('tool', @agent, 'g-run-2', current_date, 'l-2', NULL, 'ticketing', NULL, 'released', 0.10, 0, now())
            """);
        command.Parameters.AddWithValue("agent", Agent);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Costs_per_agent_and_day_divide_everything_spent_by_the_successful_runs()
    {
        await SeedAsync();
        await SeedLedgerAsync();
        var report = await new CostReportQuery(fixture.Superuser).GetAsync(Agent, DateTimeOffset.UtcNow.AddDays(-1), null);
        Assert.Equal((5, 3, 1, 1, 0.50m), (report.Total.Runs, report.Total.SuccessfulRuns, report.Total.FailedRuns, report.Total.UnreportedRuns,
            report.Total.CostUsd));
        Assert.Equal(0.166667m, report.Total.CostPerSuccessfulRunUsd);

        var (exit, output) = await AuditFixture.CliAsync("costs", "--agent", Agent, "--since", "1d", "--postgres", fixture.ConnectionString);
        Assert.Equal(0, exit);
        Assert.Contains("$0.166667", output);
        (exit, output) = await AuditFixture.CliAsync("costs", "--json", "--since", "1d", "--postgres", fixture.ConnectionString);
        Assert.Equal(0, exit);
        Assert.Equal(0.50m, JsonDocument.Parse(output).RootElement.GetProperty("total").GetProperty("costUsd").GetDecimal());
    }
}
