using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

/// <summary>
/// The in-memory admission (rates, run caps, budgets, duplicates) that `policy test` sequences and
/// replays use: each rule as policy_admit applies it, with the service's wording.
/// </summary>
public sealed class AdmissionModelTests
{
    static readonly DateTimeOffset Noon = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    static readonly PolicySnapshot Policy = Load("""
        agents: [{id: bot, team: t}, {id: other, team: t}]
        tools:
          - name: chat
            capabilities: [message.send]
            unitCostUsd: 0.10
          - name: free
            capabilities: [read]
        grants:
          - {id: bot-chat, agent: bot, tool: chat}
          - {id: bot-free, agent: bot, tool: free}
          - {id: other-chat, agent: other, tool: chat}
          - id: bot-approved
            agent: other
            tool: free
            approval: {group: g, expires: 1h}
        limits:
          default: {callsPerMinute: 10, run: {maxToolCalls: 5, maxRetries: 1, maxDuration: 30m}}
          tools: {chat: {callsPerMinute: 15}}
        budgets:
          default: {perDayUsd: 1.00, perRunUsd: 0.25}
        """);

    static PolicySnapshot Load(string yaml)
    {
        var result = PolicyLoader.Parse(yaml, "model.yaml");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Policy!;
    }

    static int _ids;

    static ActionProposed Proposal(string agent = "bot", string tool = "chat", string run = "r1", string arguments = "{}", string? key = null, string? actionId = null) =>
        new(actionId ?? $"00000000-0000-7000-8000-{Interlocked.Increment(ref _ids):D12}", run, agent, tool,
            JsonDocument.Parse(arguments).RootElement.Clone(), key);

    static ModeledAdmission Admit(AdmissionModel model, ActionProposed proposal, DateTimeOffset at) =>
        model.Admit(proposal, PolicyEvaluator.Evaluate(proposal, proposal.AgentId, Policy, EvaluationState.At(at)), at);

    [Fact]
    public void The_eleventh_call_in_a_minute_is_rate_limited_by_the_agents_rule()
    {
        var model = new AdmissionModel();
        for (var i = 0; i < 10; i++)
            Assert.Equal(Decision.Allowed, Admit(model, Proposal(tool: "free", run: $"r{i}"), Noon.AddSeconds(i)).Decision.Decision);

        var refused = Admit(model, Proposal(tool: "free", run: "r10"), Noon.AddSeconds(10)).Decision;

        Assert.Equal((ReasonCodes.RateLimited, "limits.default.callsPerMinute"), (refused.ReasonCode, refused.RuleId));
        Assert.Equal("Agent 'bot' is at its limit of 10 calls per minute; try again shortly.", refused.Reason);
    }

    [Fact]
    public void The_window_slides_the_previous_minute_counts_by_how_much_of_it_still_overlaps()
    {
        var model = new AdmissionModel();
        for (var i = 0; i < 10; i++)
            Admit(model, Proposal(tool: "free", run: $"a{i}"), Noon);

        // 12:01:00: all of 12:00 still counts. 12:01:45: a quarter of it (2.5), so seven more fit (2.5 + 7 <= 10).
        Assert.Equal(ReasonCodes.RateLimited, Admit(model, Proposal(tool: "free", run: "b"), Noon.AddMinutes(1)).Decision.ReasonCode);
        var later = Enumerable.Range(0, 8).Select(i => Admit(model, Proposal(tool: "free", run: $"c{i}"), Noon.AddSeconds(105)).Decision.ReasonCode).ToList();
        Assert.Equal([.. Enumerable.Repeat(ReasonCodes.Allowed, 7), ReasonCodes.RateLimited], later);
    }

    [Fact]
    public void A_tool_limit_counts_every_agent_and_a_refusal_counts_nothing()
    {
        var model = new AdmissionModel(new AdmissionModelOptions { DuplicateWindow = TimeSpan.Zero });
        var codes = new List<string>();
        for (var i = 0; i < 10; i++)
            codes.Add(Admit(model, Proposal(agent: "bot", run: $"b{i}"), Noon).Decision.ReasonCode);
        for (var i = 0; i < 10; i++)
            codes.Add(Admit(model, Proposal(agent: "other", run: $"o{i}"), Noon).Decision.ReasonCode);

        // bot's 10, then other's first 5 fill the tool's 15; other's refused calls took nothing from its own 10.
        Assert.Equal([.. Enumerable.Repeat(ReasonCodes.Allowed, 15), .. Enumerable.Repeat(ReasonCodes.RateLimited, 5)], codes);
        var refused = Admit(model, Proposal(agent: "other", run: "o-last"), Noon).Decision;
        Assert.Equal(("limits.tools.chat.callsPerMinute", "Tool 'chat' is at its limit of 15 calls per minute; try again shortly."), (refused.RuleId, refused.Reason));
    }

    [Fact]
    public void A_run_has_its_tool_calls_its_retries_and_its_duration()
    {
        var model = new AdmissionModel();
        for (var i = 0; i < 5; i++)
            Assert.Equal(ReasonCodes.Allowed, Admit(model, Proposal(tool: "free", arguments: $$"""{"i": {{i}}}"""), Noon.AddMinutes(i)).Decision.ReasonCode);
        var calls = Admit(model, Proposal(tool: "free", arguments: """{"i": 9}"""), Noon.AddMinutes(6)).Decision;
        Assert.Equal((ReasonCodes.RunToolCallsExceeded, "limits.default.run.maxToolCalls", "Run 'r1' has used its 5 tool calls."),
            (calls.ReasonCode, calls.RuleId, calls.Reason));

        // Retries: the same tool and arguments under new keys (a key makes it no duplicate); one retry allowed.
        var retries = new AdmissionModel();
        var codes = Enumerable.Range(0, 3).Select(i => Admit(retries, Proposal(tool: "free", run: "r2", key: $"k{i}"), Noon.AddMinutes(i)).Decision).ToList();
        Assert.Equal([ReasonCodes.Allowed, ReasonCodes.Allowed, ReasonCodes.RunRetriesExceeded], codes.Select(d => d.ReasonCode));
        Assert.Equal("Run 'r2' already tried this exact free action 2 time(s); at most 1 retries are allowed.", codes[2].Reason);

        var time = new AdmissionModel();
        Admit(time, Proposal(tool: "free", run: "r3", arguments: """{"a": 1}"""), Noon);
        Assert.Equal(ReasonCodes.Allowed, Admit(time, Proposal(tool: "free", run: "r3", arguments: """{"a": 2}"""), Noon.AddMinutes(30)).Decision.ReasonCode);
        var late = Admit(time, Proposal(tool: "free", run: "r3", arguments: """{"a": 3}"""), Noon.AddMinutes(30).AddSeconds(1)).Decision;
        Assert.Equal((ReasonCodes.RunTimeExceeded, "Run 'r3' started at 2026-12-03 12:00:00Z and may last 30m; start a new run."), (late.ReasonCode, late.Reason));
    }

    [Fact]
    public void The_third_chat_of_ten_cents_does_not_fit_a_run_budget_of_a_quarter()
    {
        var model = new AdmissionModel();
        var decisions = Enumerable.Range(0, 3).Select(i => Admit(model, Proposal(arguments: $$"""{"n": {{i}}}"""), Noon.AddSeconds(i)).Decision).ToList();

        Assert.Equal([ReasonCodes.Allowed, ReasonCodes.Allowed, ReasonCodes.BudgetExceeded], decisions.Select(d => d.ReasonCode));
        Assert.Equal("budgets.default.perRunUsd", decisions[2].RuleId);
        Assert.Equal("Agent 'bot' has $0.25 for run 'r1': $0.00 spent and $0.20 reserved leave less than this call's $0.10.", decisions[2].Reason);
        Assert.Equal(new BudgetUsage(0m, 0.20m), model.RunUsage("bot", "r1"));
    }

    [Fact]
    public void Settling_spends_the_actual_cost_and_a_failure_gives_the_reservation_back()
    {
        var model = new AdmissionModel();
        var first = Proposal(arguments: """{"n": 1}""");
        var second = Proposal(arguments: """{"n": 2}""");
        Admit(model, first, Noon);
        Admit(model, second, Noon);

        Assert.True(model.Settle(first.ActionId, ModeledOutcome.Succeeded, 0.02m));
        Assert.True(model.Settle(second.ActionId, ModeledOutcome.Failed));
        Assert.False(model.Settle(second.ActionId, ModeledOutcome.Succeeded));

        Assert.Equal(new BudgetUsage(0.02m, 0m), model.RunUsage("bot", "r1"));
        Assert.Equal(new BudgetUsage(0.02m, 0m), model.DayUsage("bot", DateOnly.FromDateTime(Noon.UtcDateTime)));

        var unknown = Proposal(arguments: """{"n": 3}""");
        Admit(model, unknown, Noon);
        model.Settle(unknown.ActionId, ModeledOutcome.OutcomeUnknown);
        Assert.Equal(new BudgetUsage(0.12m, 0m), model.RunUsage("bot", "r1"));
    }

    [Fact]
    public void Reported_spend_counts_in_the_day_and_the_run_once_per_report()
    {
        var model = new AdmissionModel();
        Assert.True(model.ReportSpend("bot", "r1", "rep-1", 0.95m, Noon));
        Assert.False(model.ReportSpend("bot", "r1", "rep-1", 0.95m, Noon));

        var refused = Admit(model, Proposal(run: "r2"), Noon).Decision;

        Assert.Equal(("budgets.default.perDayUsd", "Agent 'bot' has $1.00 for today (2026-12-03 UTC): $0.95 spent and $0.00 reserved leave less than this call's $0.10."),
            (refused.RuleId, refused.Reason));
        Assert.Equal(ReasonCodes.Allowed, Admit(model, Proposal(run: "r2"), Noon.AddDays(1)).Decision.ReasonCode);
    }

    [Fact]
    public void The_same_arguments_in_a_run_repeat_the_first_action_and_the_same_id_replays_its_decision()
    {
        var model = new AdmissionModel();
        var first = Proposal(arguments: """{"text": "hi", "n": 1.0}""");
        Admit(model, first, Noon);

        var repeat = Admit(model, Proposal(arguments: """{"n": 1, "text": "hi"}"""), Noon.AddMinutes(9));
        Assert.Equal((ModeledAdmissionKind.Duplicate, ReasonCodes.DuplicateAction, "idempotency", first.ActionId),
            (repeat.Kind, repeat.Decision.ReasonCode, repeat.Decision.RuleId, repeat.DuplicateOf));
        Assert.StartsWith($"This proposal repeats action {first.ActionId} (its run, tool and arguments); it gets that action's decision (allowed: ", repeat.Decision.Reason);

        // After the duplicate window the same arguments are a new action (and a retry of the first).
        Assert.Equal(ModeledAdmissionKind.New, Admit(model, Proposal(arguments: """{"n": 1, "text": "hi"}"""), Noon.AddMinutes(10)).Kind);

        var replay = Admit(model, first, Noon.AddMinutes(11));
        Assert.Equal((ModeledAdmissionKind.Replay, ReasonCodes.Allowed), (replay.Kind, replay.Decision.ReasonCode));
        var reused = Admit(model, Proposal(arguments: """{"other": true}""", actionId: first.ActionId), Noon.AddMinutes(12));
        Assert.Equal((ModeledAdmissionKind.Replay, ReasonCodes.ActionIdReused), (reused.Kind, reused.Decision.ReasonCode));
    }

    [Fact]
    public void A_denied_proposal_claims_nothing_and_an_approval_holds_its_reservation_until_it_expires()
    {
        var model = new AdmissionModel();
        var denied = Proposal(agent: "other", tool: "free");
        var evaluated = PolicyDecision.Deny(ReasonCodes.ConstraintViolated, "no", "g/constraints/0");
        Assert.Same(evaluated, model.Admit(denied, evaluated, Noon).Decision);

        var waiting = Admit(model, Proposal(agent: "other", tool: "chat", run: "w"), Noon);
        Assert.Equal(Decision.Allowed, waiting.Decision.Decision);
        var approval = Admit(model, Proposal(agent: "other", tool: "free", run: "w"), Noon);
        Assert.Equal(Decision.ApprovalRequired, approval.Decision.Decision);
        Assert.Equal(new BudgetUsage(0m, 0.10m), model.RunUsage("other", "w"));

        // No outcome: the chat's reservation goes after Policy:ReservationTimeout (1h).
        Admit(model, Proposal(agent: "other", tool: "free", run: "later"), Noon.AddHours(1).AddSeconds(1));
        Assert.Equal(new BudgetUsage(0m, 0m), model.RunUsage("other", "w"));
    }
}
