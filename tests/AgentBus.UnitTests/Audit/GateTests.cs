using AgentBus.Audit.Gates;

namespace AgentBus.UnitTests.Audit;

public class GateTests
{
    static GateFacts Facts(int runs = 40, int successful = 39, decimal cost = 10m, int writes = 200, int critical = 1, int executions = 300,
        int complete = 300, int grants = 0, string agent = "support-bot", string? tool = "ticketing") =>
        new(agent, tool, runs, successful, cost, writes, critical, executions, complete, grants);

    static GateResult Result(GateRow row, string gate) => row.Results.Single(r => r.Gate == gate);

    [Fact]
    public void Good_numbers_pass_every_default_gate()
    {
        var row = GateEvaluator.Evaluate(Facts(), GateTargets.Defaults(), minRuns: 20);
        Assert.True(row.Passed, string.Join("; ", row.Results.Select(r => $"{r.Gate} {r.Status} {r.Detail}")));
        Assert.Equal(0.975m, Result(row, GateNames.CompletionRate).Value);
        Assert.Equal(0.005m, Result(row, GateNames.CriticalErrorRate).Value);
        Assert.Equal(10m / 39, Result(row, GateNames.CostPerSuccessfulRun).Value!.Value, 5);
        Assert.Equal(1m, Result(row, GateNames.AuditCoverage).Value);
    }

    [Theory]
    [InlineData(GateNames.CompletionRate)]
    [InlineData(GateNames.CriticalErrorRate)]
    [InlineData(GateNames.CostPerSuccessfulRun)]
    [InlineData(GateNames.AuditCoverage)]
    [InlineData(GateNames.UnapprovedWriteGrants)]
    public void Each_gate_fails_on_its_own_number(string gate)
    {
        var facts = gate switch
        {
            GateNames.CompletionRate => Facts(successful: 30),
            GateNames.CriticalErrorRate => Facts(critical: 10),
            GateNames.CostPerSuccessfulRun => Facts(cost: 100m),
            GateNames.AuditCoverage => Facts(complete: 299),
            _ => Facts(grants: 1),
        };
        var row = GateEvaluator.Evaluate(facts, GateTargets.Defaults(), minRuns: 20);
        Assert.Equal(GateStatus.Fail, Result(row, gate).Status);
        Assert.Single(row.Results, r => r.Status == GateStatus.Fail);
        Assert.False(row.Passed);
    }

    [Fact]
    public void Too_few_runs_is_no_data_and_does_not_pass()
    {
        var row = GateEvaluator.Evaluate(Facts(runs: 5, successful: 5), GateTargets.Defaults(), minRuns: 20);
        Assert.Equal(GateStatus.NoData, Result(row, GateNames.CompletionRate).Status);
        Assert.Equal(GateStatus.NoData, Result(row, GateNames.CostPerSuccessfulRun).Status);
        Assert.False(row.Passed);
    }

    [Fact]
    public void No_writes_and_no_executions_pass_their_gates()
    {
        var row = GateEvaluator.Evaluate(Facts(writes: 0, critical: 0, executions: 0, complete: 0), GateTargets.Defaults(), minRuns: 20);
        Assert.Equal(GateStatus.Pass, Result(row, GateNames.CriticalErrorRate).Status);
        Assert.Equal(GateStatus.Pass, Result(row, GateNames.AuditCoverage).Status);
    }

    [Fact]
    public void Spending_without_a_successful_run_fails_the_cost_gate()
    {
        var row = GateEvaluator.Evaluate(Facts(successful: 0), GateTargets.Defaults(), minRuns: 20);
        Assert.Equal(GateStatus.Fail, Result(row, GateNames.CostPerSuccessfulRun).Status);
    }

    [Fact]
    public void A_target_left_out_is_reported_not_gated()
    {
        var row = GateEvaluator.Evaluate(Facts(successful: 1, grants: 3), new GateTargets(), minRuns: 20);
        Assert.All(row.Results, r => Assert.Equal(GateStatus.NotGated, r.Status));
        Assert.True(row.Passed);
        Assert.Equal(3, Result(row, GateNames.UnapprovedWriteGrants).Value);
    }

    [Fact]
    public void Per_agent_targets_override_the_defaults_one_at_a_time()
    {
        var config = GateConfig.Parse("""
            minRuns: 1
            targets:
              completionRate: 0.9
              unapprovedWriteGrants: 0
            agents:
              support-bot:
                unapprovedWriteGrants: 2
            """, "gates.yaml");
        var report = GateEvaluator.Evaluate(DateTimeOffset.UnixEpoch,
            [Facts(grants: 2), Facts(grants: 2, agent: "intern-bot")], config);
        Assert.True(report.Rows.Single(r => r.Facts.AgentId == "support-bot").Passed);
        Assert.False(report.Rows.Single(r => r.Facts.AgentId == "intern-bot").Passed);
        Assert.False(report.Passed);
        Assert.Equal(0.9m, Result(report.Rows[0], GateNames.CompletionRate).Target);
        Assert.Equal(GateStatus.NotGated, Result(report.Rows[0], GateNames.AuditCoverage).Status);
    }

    [Fact]
    public void The_shipped_gates_file_loads()
    {
        var config = GateConfig.Load(Path.Combine(RepoRoot.Path, "ops", "gates.yaml"));
        Assert.Equal(TimeSpan.FromDays(30), config.WindowSpan);
        Assert.Equal(0.95, config.Targets.CompletionRate);
        Assert.Equal(2, config.TargetsFor("support-bot").UnapprovedWriteGrants);
        Assert.Equal(0, config.TargetsFor("intern-bot").UnapprovedWriteGrants);
        Assert.True(File.Exists(Path.Combine(RepoRoot.Path, "ops", config.Policy!)));
    }

    [Theory]
    [InlineData("window: soon", "window 'soon' is not a duration")]
    [InlineData("targets:\n  completionRate: 1.5", "targets.completionRate must be a share between 0 and 1")]
    [InlineData("agents:\n  a:\n    unapprovedWriteGrants: -1", "agents.a.unapprovedWriteGrants must be 0 or more")]
    [InlineData("minRuns: -2", "minRuns must be 0 or more")]
    [InlineData("targets:\n  completion: 0.9", "gates.yaml:2")]
    public void Bad_gate_files_are_refused_with_the_reason(string yaml, string expected)
    {
        var error = Assert.Throws<GateConfigException>(() => GateConfig.Parse(yaml, "gates.yaml"));
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("30d", 30 * 24 * 60)]
    [InlineData("12h", 12 * 60)]
    [InlineData("15m", 15)]
    [InlineData("2w", 14 * 24 * 60)]
    [InlineData("01:30:00", 90)]
    public void Durations_read_as_operators_write_them(string text, double minutes)
    {
        Assert.True(Duration.TryParse(text, out var value));
        Assert.Equal(minutes, value.TotalMinutes);
    }
}
