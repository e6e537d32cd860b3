using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

/// <summary>`policy test` cases with a sequence: steps admitted one after another into the same state.</summary>
public sealed class PolicyCaseSequenceTests
{
    static readonly string Policies = Path.Combine(RepoRoot.Path, "ops", "policies");

    static PolicyCases Cases(string yaml)
    {
        var (cases, errors) = PolicyCases.Load(yaml, "cases.yaml");
        Assert.True(cases is not null, string.Join("\n", errors));
        return cases!;
    }

    static PolicySnapshot Shipped() => PolicyLoader.LoadFile(Path.Combine(Policies, "policy.yaml")).Policy!;

    [Fact]
    public void The_shipped_cases_pass_including_their_rate_run_cap_and_budget_sequences()
    {
        var (cases, errors) = PolicyCases.Load(File.ReadAllText(Path.Combine(Policies, "policy.cases.yaml")), "policy.cases.yaml");
        Assert.True(cases is not null, string.Join("\n", errors));

        var results = cases!.Run(Shipped(), DateTimeOffset.UtcNow);

        Assert.All(results, r => Assert.True(r.Passed, $"{r.Case.Name} {r.Step}: {r.Actual} {r.ActualRule} {r.ActualReasonCode}: {r.Reason}"));
        Assert.Contains(results, r => r.ActualReasonCode == "rate_limited");
        Assert.Contains(results, r => r.ActualReasonCode == "run_tool_calls_exceeded");
        Assert.Contains(results, r => r.ActualReasonCode == "run_retries_exceeded");
        Assert.Contains(results, r => r.ActualReasonCode == "budget_exceeded");
        Assert.Contains(results, r => r.ActualReasonCode == "duplicate_action");
    }

    [Fact]
    public void A_repeated_step_that_fails_names_the_call_and_the_steps_line()
    {
        var cases = Cases("""
            cases:
              - name: too many lookups
                sequence:
                  - proposal:
                      agentId: support-bot
                      runId: "r-{n}"
                      tool: payments
                      operation: get_order
                      arguments: { orderId: "ORD-100{n}" }
                    repeat: 31
                    expect: { decision: allowed }
            """);

        var result = cases.Run(Shipped(), DateTimeOffset.UtcNow).Single();

        Assert.False(result.Passed);
        Assert.Equal("step 1, call 31 of 31", result.Step);
        Assert.Equal(("limits.tools.payments.callsPerMinute", "rate_limited"), (result.ActualRule, result.ActualReasonCode));
        Assert.Equal(4, result.Line);
    }

    [Fact]
    public void A_sequence_runs_from_noon_so_an_offset_lands_in_a_known_place_of_the_window()
    {
        var cases = Cases("""
            cases:
              - name: after a minute all of the previous minute still counts
                sequence:
                  - proposal: { agentId: intern-bot, runId: "a{n}", tool: ticketing, operation: comment, arguments: { ticketId: "TCK-10000{n}", body: x, visibility: internal } }
                    repeat: 10
                    expect: { decision: allowed }
                  - at: +60s
                    proposal: { agentId: intern-bot, runId: b, tool: ticketing, operation: comment, arguments: { ticketId: TCK-200000, body: x, visibility: internal } }
                    expect: { decision: denied, reasonCode: rate_limited }
            """);

        Assert.All(cases.Run(Shipped(), new DateTimeOffset(2026, 12, 3, 23, 59, 59, TimeSpan.Zero)), r => Assert.True(r.Passed, r.Reason));
    }

    [Fact]
    public void Malformed_steps_are_reported_with_their_lines()
    {
        var (cases, errors) = PolicyCases.Load("""
            cases:
              - name: bad
                sequence:
                  - proposal: { agentId: a, tool: t }
                  - at: soon
                    spend: { agentId: a, amountUsd: 1 }
                  - proposal: { agentId: a, tool: t }
                    at: +10s
                    outcome: maybe
                    expect: { decision: allowed }
                  - at: +5s
                    spend: { agentId: a, amountUsd: 1 }
            """, "c.yaml");

        Assert.Null(cases);
        Assert.Equal(
        [
            "c.yaml:4: case 'bad': a step with a proposal needs expect.decision, one of allowed, denied, approval_required.",
            "c.yaml:5: case 'bad': at 'soon' is not an offset from the sequence's start such as +30s, +2m or +1h.",
            "c.yaml:7: case 'bad': outcome 'maybe' is not one of succeeded, failed, unknown.",
            "c.yaml:11: case 'bad': at '+5s' is before the previous step; steps go forward in time.",
        ], errors);
    }
}
