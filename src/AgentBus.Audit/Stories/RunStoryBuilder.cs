using System.Text.Json;
using AgentBus.Audit.Chain;
using AgentBus.Contracts;

namespace AgentBus.Audit.Stories;

/// <summary>Assembles a <see cref="RunStory"/> from a run's audit rows and summaries; no database, so tests call it directly.</summary>
public static class RunStoryBuilder
{
    public static RunStory? Build(string runId, IReadOnlyList<AuditRecord> rows, IReadOnlyList<RunAgent> agents)
    {
        if (rows.Count == 0 && agents.Count == 0)
            return null;

        var steps = rows.Select(Step).ToList();
        var actions = steps.Zip(rows)
            .Where(x => x.Second.ActionId is not null)
            .GroupBy(x => (x.Second.ActionId!, Agent: ActionAgent(x.Second)))
            .Select(g => Action(g.Key.Item1, g.Select(x => (x.First, x.Second)).ToList()))
            .OrderBy(a => a.FirstEventAt).ThenBy(a => a.Steps.Min(s => s.Seq))
            .ToList();
        var runEvents = steps.Zip(rows).Where(x => x.Second.ActionId is null).Select(x => x.First)
            .OrderBy(s => s.At).ThenBy(s => s.Seq).ToList();

        var times = steps.Select(s => s.At).Concat(agents.SelectMany(a => new[] { a.FirstEventAt, a.LastEventAt })).ToList();
        var started = times.Min();
        var last = times.Max();

        var reported = agents.Where(a => a.Succeeded is not null).ToList();
        var status = reported.Count == 0 ? "running" : reported.All(a => a.Succeeded == true) ? "succeeded" : "failed";

        var totals = new RunTotals(
            actions.Count,
            actions.Count(a => a.Decision == "allowed"),
            actions.Count(a => a.Decision == "denied"),
            actions.Count(a => a.Status == "pending_approval"),
            actions.Count(a => a.AuthorizedAt is not null),
            actions.Count(a => a.Status == "succeeded"),
            actions.Count(a => a.Status == "failed"),
            actions.Count(a => a.Status == "outcome_unknown"),
            actions.Count(a => a.Status == "refused"),
            actions.Sum(a => a.CostUsd),
            last - started);

        return new RunStory(runId, status, started, last, agents.OrderBy(a => a.FirstEventAt).ToList(), actions, runEvents, totals);
    }

    // Agent ids are the broker-validated senders; a proposal whose identity was missing has none,
    // and its decision says so, so they still group by action id.
    static string ActionAgent(AuditRecord row) => row.AgentId ?? "";

    public static StoryStep Step(AuditRecord row) =>
        new(row.Seq, row.EventId, StoryStages.Of(row.EventType), row.EventType, row.OccurredAt, row.Outcome, row.Actor, row.ReasonCode,
            row.RuleId, row.PolicyVersion, row.ExternalReference, row.CostUsd, Parse(row.Payload));

    static ActionStory Action(string actionId, List<(StoryStep Step, AuditRecord Row)> events)
    {
        // In the order of the chain of custody, not of the clocks: the projections stamp a proposal
        // when they read it, which can be after the policy service decided it.
        var ordered = events.OrderBy(e => Rank(e.Step)).ThenBy(e => e.Step.At).ThenBy(e => e.Step.Seq).ToList();
        var steps = ordered.Select(e => e.Step).ToList();

        StoryStep? Last(string stage) => steps.LastOrDefault(s => s.Stage == stage);
        var proposal = Last(StoryStages.Proposal);
        var decision = Last(StoryStages.Decision);
        var authorization = Last(StoryStages.Authorization);
        var execution = Last(StoryStages.Execution);
        var outcome = Last(StoryStages.Outcome);
        var approvals = steps.Where(s => s.Stage == StoryStages.Approval)
            .Select(s => new ApprovalAnswer(s.EventType, s.Outcome, s.Actor, s.At)).ToList();

        var agent = ordered.Select(o => o.Row.AgentId).FirstOrDefault(a => a is not null);
        var tool = ordered.Select(o => o.Row.Tool).FirstOrDefault(t => t is not null);

        string? intent = null;
        string? undoes = null;
        JsonElement? arguments = null;
        if (proposal is not null && proposal.Payload.ValueKind == JsonValueKind.Object)
        {
            intent = String(proposal.Payload, "intent");
            undoes = String(proposal.Payload, "compensates");
            if (proposal.Payload.TryGetProperty("arguments", out var args))
                arguments = args;
        }
        if (arguments is null && authorization?.Payload.ValueKind == JsonValueKind.Object
                              && authorization.Payload.TryGetProperty("arguments", out var authorized))
            arguments = authorized;

        var status = Status(proposal, decision, approvals, authorization, execution, outcome);
        return new ActionStory(
            actionId, agent, tool, status, intent, arguments, steps.Min(s => s.At),
            decision?.Outcome, decision?.ReasonCode ?? (proposal?.Outcome == "malformed" ? proposal.ReasonCode : null),
            decision is null ? null : String(decision.Payload, "reason"),
            decision?.RuleId, decision?.PolicyVersion, approvals,
            authorization?.At,
            execution?.Actor,
            outcome?.At,
            outcome?.ExternalReference,
            outcome?.EventType == "ActionFailed" ? outcome.ReasonCode : null,
            outcome?.EventType == "ActionFailed" ? String(outcome.Payload, "error") : null,
            outcome is null ? null : Long(outcome.Payload, "durationMs"),
            steps.Where(s => s.Stage == StoryStages.Outcome).Sum(s => s.CostUsd ?? 0),
            steps,
            undoes);
    }

    static string Status(StoryStep? proposal, StoryStep? decision, List<ApprovalAnswer> approvals, StoryStep? authorization,
        StoryStep? execution, StoryStep? outcome)
    {
        if (outcome is not null)
            return outcome.Outcome;
        if (execution is not null)
            return "running";
        if (authorization is not null)
            return "authorized";
        if (decision is not null)
        {
            if (FollowsApproval(decision) && decision.Outcome == "denied" && decision.ReasonCode?.StartsWith("approval_", StringComparison.Ordinal) == true)
                return decision.ReasonCode;
            if (decision.Outcome == DecisionNames.ApprovalRequired)
                return approvals.Count == 0 ? "pending_approval" : approvals[^1].Answer switch
                {
                    "denied" or "expired" or "cancelled" => "approval_" + approvals[^1].Answer,
                    _ => "pending_approval",
                };
            return decision.Outcome;
        }
        return proposal?.Outcome ?? "proposed";
    }

    /// <summary>
    /// The stage's rank, except that the final decision on an action that needed approval comes after
    /// the approval's steps (request, answers, grant), where it happened in the chain of custody.
    /// </summary>
    static double Rank(StoryStep step) =>
        FollowsApproval(step) ? StoryStages.Rank(StoryStages.Approval) + 0.5 : StoryStages.Rank(step.Stage);

    static bool FollowsApproval(StoryStep step) =>
        step.Stage == StoryStages.Decision && step.Outcome != DecisionNames.ApprovalRequired && String(step.Payload, "approvalId") is not null;

    static JsonElement Parse(string payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(payload);
        }
    }

    static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    static long? Long(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.TryGetInt64(out var number)
            ? number
            : null;
}
