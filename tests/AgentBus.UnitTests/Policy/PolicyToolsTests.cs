using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

/// <summary>The pieces behind `agentbus policy test` and `who-can`, and the spend report rules.</summary>
public class PolicyToolsTests
{
    [Fact]
    public void Policy_cases_report_passes_and_mismatches()
    {
        var (cases, errors) = PolicyCases.Load("""
            cases:
              - name: ticket allowed
                proposal: { agentId: support-bot, tool: ticketing, arguments: { method: POST, url: "http://127.0.0.1:5080/ticketing/tickets" } }
                expect: { decision: allowed, rule: support-tickets }
              - name: wrong expectation
                proposal: { agentId: intern-bot, tool: payments, arguments: {} }
                expect: { decision: allowed }
              - name: spoofed
                brokerUser: intern-bot
                proposal: { agentId: support-bot, tool: ticketing, arguments: {} }
                expect: { decision: denied, reasonCode: identity_mismatch }
              - name: anonymous
                anonymous: true
                proposal: { agentId: support-bot, tool: ticketing, arguments: {} }
                expect: { decision: denied, reasonCode: identity_missing }
              - name: suspended
                suspended: { tools: [ticketing] }
                proposal: { agentId: support-bot, tool: ticketing, arguments: { method: GET, url: "http://127.0.0.1:5080/ticketing/x" } }
                expect: { decision: denied, rule: kill-switch }
            """, "cases.yaml");
        Assert.Empty(errors);

        var results = cases!.Run(TestPolicy.Policy, DateTimeOffset.UtcNow);

        Assert.Equal([true, false, true, true, true], results.Select(r => r.Passed));
        Assert.Equal(ReasonCodes.NoGrant, results[1].ActualReasonCode);
        Assert.Equal(5, results[1].Case.Line);
    }

    [Fact]
    public void A_cases_file_with_an_unknown_decision_is_refused_with_its_line()
    {
        var (cases, errors) = PolicyCases.Load("cases:\n  - name: x\n    proposal: {agentId: a, tool: t}\n    expect: {decision: maybe}\n", "c.yaml");
        Assert.Null(cases);
        Assert.StartsWith("c.yaml:2:", Assert.Single(errors));
    }

    [Fact]
    public void Who_can_move_money_lists_the_agents_constraints_and_approval()
    {
        var (rows, error, _) = WhoCan.Query(TestPolicy.Policy, "money.move");

        Assert.Null(error);
        var row = Assert.Single(rows);
        Assert.Equal(("support-bot", "payments", "support-refunds"), (row.Agent, row.Tool, row.Grant));
        Assert.Contains(row.Constraints, c => c.Contains("/body/amountUsd <= 1000", StringComparison.Ordinal));
        Assert.Contains("2 of 'payments-approvers'", row.Approval);
    }

    [Fact]
    public void Who_can_use_a_tool_by_name()
    {
        var (rows, error, _) = WhoCan.Query(TestPolicy.Policy, "ticketing");
        Assert.Null(error);
        Assert.Equal(["intern-bot", "retired-bot", "support-bot"], rows.Select(r => r.Agent));
        Assert.True(rows.Single(r => r.Agent == "retired-bot").AgentSuspended);
    }

    [Fact]
    public void Who_can_refuses_what_is_neither_capability_nor_tool()
    {
        var (_, error, _) = WhoCan.Query(TestPolicy.Policy, "money.mvoe");
        Assert.Contains("neither a capability", error);
    }

    public static TheoryData<string, SpendReported, bool> SpendReports() => new()
    {
        { "valid", new SpendReported("r-1", "support-bot", "run-1", 0.0132m, "inference"), true },
        { "negative", new SpendReported("r-1", "support-bot", "run-1", -1m, "inference"), false },
        { "too many decimals", new SpendReported("r-1", "support-bot", "run-1", 0.0000001m, "inference"), false },
        { "huge", new SpendReported("r-1", "support-bot", "run-1", 2_000_000m, "inference"), false },
        { "no report id", new SpendReported("", "support-bot", "run-1", 1m, "inference"), false },
        { "bad run id", new SpendReported("r-1", "support-bot", "run 1", 1m, "inference"), false },
        { "no category", new SpendReported("r-1", "support-bot", "run-1", 1m, ""), false },
        { "bad agent id", new SpendReported("r-1", "Support", "run-1", 1m, "inference"), false },
    };

    [Theory]
    [MemberData(nameof(SpendReports))]
    public void Spend_reports_are_validated(string because, SpendReported report, bool valid) =>
        Assert.True(valid == new SpendReportValidator().Validate(report).IsValid, because);
}
