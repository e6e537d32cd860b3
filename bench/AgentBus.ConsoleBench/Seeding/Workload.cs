using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.ConsoleBench.Seeding;

/// <summary>
/// Invents the agents' traffic of the last days and lets the real policy evaluator decide each proposal,
/// so reason codes, rule ids, texts, approval terms and estimated costs are the policy file's own. What the
/// evaluator cannot know (rates, budgets: admission state) is applied here the way admission does it:
/// a day budget that a reservation would exceed is refused. Executions, approvals and reports follow the
/// services' message sequences.
/// </summary>
sealed class Workload(PolicySnapshot policy, Random random, DateTimeOffset now)
{
    // Approvers in payments-approvers who are not on the support team (separation of duties).
    static readonly string[] Approvers = ["dana", "erin"];

    readonly Dictionary<(string Agent, DateOnly Day), decimal> _dayUse = [];
    readonly string _keyId = Convert.ToHexStringLower(RandomBytes(random, 8));
    int _reference;

    public List<SeededRun> Generate(int actions, int days)
    {
        var shapes = new List<(string Agent, int Size)>();
        for (var left = actions; left > 0;)
        {
            var agent = Pick(("support-bot", 60), ("intern-bot", 20), ("desk-assistant", 20));
            var size = Math.Min(left, agent == "intern-bot" ? random.Next(4, 9) : random.Next(4, 13));
            shapes.Add((agent, size));
            left -= size;
        }
        // The newest runs start 90 s ago at the latest and move fast (see Run), so every event is in the past
        // and the last minutes' rate windows have calls in them.
        var span = days * 86_400.0 - 90;
        var starts = shapes.Select(_ => now - TimeSpan.FromSeconds(90 + random.NextDouble() * span)).Order().ToList();
        // A few runs are going on right now whatever the draw, so the rate windows and the newest run are live ones.
        for (var k = 1; k <= Math.Min(3, starts.Count); k++)
            starts[^k] = new[] { starts[^k], now - TimeSpan.FromSeconds(90 + 60 * (k - 1)) }.Max();
        var runs = new List<SeededRun>(shapes.Count);
        for (var i = 0; i < shapes.Count; i++)
        {
            var (agent, size) = shapes[i];
            runs.Add(Run(agent, $"{agent}-{starts[i].UtcDateTime:yyyyMMdd-HHmmss}-{i:x5}", starts[i], size));
        }
        return runs;
    }

    SeededRun Run(string agent, string runId, DateTimeOffset start, int size)
    {
        var run = new SeededRun(runId, agent);
        var at = start;
        var recent = start > now - TimeSpan.FromMinutes(10);
        for (var n = 0; n < size; n++)
        {
            run.Actions.Add(Action(run, at));
            at += TimeSpan.FromMilliseconds(recent ? random.Next(1_000, 5_000) : random.Next(2_000, 40_000));
        }
        var end = run.Actions.Max(a => a.LastAt);
        // Agents report most runs; one still going (the last minutes) has not yet.
        if (end < now - TimeSpan.FromMinutes(15) && random.NextDouble() < 0.92)
        {
            var failures = run.Actions.Count(a => a.Failed is not null);
            var denied = run.Actions.Count(a => !a.Admitted || a.FinalDecision?.Decision == Decision.Denied);
            run.Report = new RunCompleted(runId, agent, failures == 0,
                $"{run.Actions.Count} steps: {run.Actions.Count(a => a.Succeeded is not null)} done, {denied} refused, {failures} failed.");
            run.ReportedAt = end + TimeSpan.FromMilliseconds(random.Next(200, 3_000));
            run.ReportMessageId = Guid.CreateVersion7(run.ReportedAt).ToString();
        }
        return run;
    }

    SeededAction Action(SeededRun run, DateTimeOffset at)
    {
        var (tool, operation, arguments, intent) = Propose(run.AgentId);
        var actionId = Guid.CreateVersion7(at).ToString();
        var proposal = new ActionProposed(actionId, run.RunId, run.AgentId, tool, arguments, null, intent, operation);
        var decidedAt = at + TimeSpan.FromMilliseconds(random.Next(3, 15));
        var verdict = Admit(proposal, PolicyEvaluator.Evaluate(proposal, run.AgentId, policy, EvaluationState.At(decidedAt)), decidedAt);
        var argumentsHash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(arguments.GetRawText())));
        Guid? approvalId = verdict.Decision == Decision.ApprovalRequired ? MessageIds.Approval(run.AgentId, actionId) : null;
        var action = new SeededAction
        {
            Proposal = proposal,
            ProposalMessageId = Guid.NewGuid().ToString(),
            ProposedAt = at,
            Verdict = verdict,
            Decided = new ActionDecided(actionId, run.RunId, run.AgentId, tool, verdict.Decision, verdict.ReasonCode, verdict.Reason, verdict.RuleId,
                policy.Version, decidedAt, approvalId?.ToString("D")),
            Operation = $"{tool}.{operation}",
            ArgumentsHash = argumentsHash,
            EstimatedCostUsd = verdict.Decision == Decision.Denied ? 0 : verdict.Terms?.EstimatedCostUsd ?? 0,
        };

        if (verdict.Decision == Decision.Allowed)
            Execute(action, decidedAt + TimeSpan.FromMilliseconds(random.Next(5, 40)), null);
        else if (verdict is { Decision: Decision.ApprovalRequired, Approval: { } approval })
            Approve(action, approval, approvalId!.Value);
        return action;
    }

    /// <summary>What the evaluator leaves to admission: an occasional burst over the rate, and the day budget.</summary>
    PolicyDecision Admit(ActionProposed proposal, PolicyDecision verdict, DateTimeOffset at)
    {
        if (verdict.Decision == Decision.Denied || verdict.Terms is not { } terms)
            return verdict;
        if (terms.AgentCallsPerMinute is { } rate && random.NextDouble() < 0.01)
            return PolicyDecision.Deny(ReasonCodes.RateLimited,
                $"Agent '{proposal.AgentId}' is at its limit of {rate.Value} calls per minute; try again shortly.", rate.RuleId);
        var day = (proposal.AgentId, DateOnly.FromDateTime(at.UtcDateTime));
        var used = _dayUse.GetValueOrDefault(day);
        if (terms.PerDayUsd is { } budget && used + terms.EstimatedCostUsd > budget.Value)
            return PolicyDecision.Deny(ReasonCodes.BudgetExceeded,
                $"Agent '{proposal.AgentId}' has ${Usd(budget.Value)} for today: ${Usd(used)} spent and $0.00 reserved " +
                $"leave less than this call's ${Usd(terms.EstimatedCostUsd)}.", budget.RuleId);
        _dayUse[day] = used + terms.EstimatedCostUsd;
        return verdict;
    }

    void Approve(SeededAction action, ApprovalRequirement approval, Guid approvalId)
    {
        var p = action.Proposal;
        var requestedAt = action.Decided.DecidedAt;
        action.ApprovalRequested = new ApprovalRequested(approvalId, p.ActionId, p.RunId, p.AgentId, approval.AgentTeam, p.Tool, p.Arguments,
            action.ArgumentsHash, approval.RuleId, approval.Group, approval.Approvers, approval.ExcludedApprovers, approval.RequestedBy, requestedAt,
            approval.ExpiresAt, approval.EscalationGroup, approval.EscalationDelay, action.Decided.PolicyVersion, p.Intent, null, null, p.Operation);
        var castAt = requestedAt + TimeSpan.FromSeconds(random.Next(60, 1_500));
        // A request from the last hour may still be waiting for a person.
        if (castAt > now)
            return;
        var approver = Approvers[random.Next(Approvers.Length)];
        var grant = random.NextDouble() < 0.85;
        action.Vote = new ApprovalVoteRecorded(approvalId, p.ActionId, p.RunId, p.AgentId, p.Tool, approval.RuleId, approver,
            grant ? ApprovalVerdict.Approve : ApprovalVerdict.Deny, grant ? null : "Refund policy: ask the customer for a photo first.", false,
            grant ? 1 : 0, approval.Approvers, castAt);
        var decidedAt = castAt + TimeSpan.FromMilliseconds(random.Next(20, 120));
        if (!grant)
        {
            action.ApprovalDenied = new ApprovalDenied(approvalId, p.ActionId, p.RunId, p.AgentId, p.Tool, approval.RuleId, approver,
                action.Vote.Comment, castAt);
            action.FinalDecision = new ActionDecided(p.ActionId, p.RunId, p.AgentId, p.Tool, Decision.Denied, ReasonCodes.ApprovalDenied,
                $"{approver} denied the request: {action.Vote.Comment}", approval.RuleId, action.Decided.PolicyVersion, decidedAt, approvalId.ToString("D"));
            return;
        }
        action.Granted = new ApprovalGranted(approvalId, p.ActionId, p.RunId, p.AgentId, p.Tool, action.ArgumentsHash, approval.RuleId, [approver],
            castAt, castAt + TimeSpan.FromMinutes(10));
        var consumedAt = castAt + TimeSpan.FromMilliseconds(random.Next(5, 40));
        action.Consumed = new ApprovalConsumed(approvalId, Guid.NewGuid(), p.ActionId, p.RunId, p.AgentId, p.Tool, p.Arguments, action.ArgumentsHash,
            null, approval.RuleId, [approver], false, consumedAt);
        action.FinalDecision = new ActionDecided(p.ActionId, p.RunId, p.AgentId, p.Tool, Decision.Allowed, ReasonCodes.ApprovalGranted,
            $"Approved by {approver}.", approval.RuleId, action.Decided.PolicyVersion, decidedAt, approvalId.ToString("D"));
        Execute(action, decidedAt + TimeSpan.FromMilliseconds(random.Next(5, 40)), approvalId);
    }

    void Execute(SeededAction action, DateTimeOffset authorizedAt, Guid? approvalId)
    {
        var p = action.Proposal;
        var clearance = policy.Agents.TryGetValue(p.AgentId, out var agent) && agent.Receives.Count > 0 ? agent.Receives : null;
        action.Authorized = new ExecuteTool(p.ActionId, p.RunId, p.AgentId, p.Tool, p.Arguments, action.ArgumentsHash, null, authorizedAt,
            new ToolAuthorization(_keyId, approvalId?.ToString("D"), authorizedAt + TimeSpan.FromMinutes(10), Convert.ToBase64String(RandomBytes(random, 64))),
            p.Operation, clearance);
        var executor = $"{p.Tool}@vm:{(p.Tool == "payments" ? 27715 : 27664)}:{(p.Tool == "payments" ? "f5f6b1" : "83eede")}";
        var startedAt = authorizedAt + TimeSpan.FromMilliseconds(random.Next(5, 60));
        var duration = random.Next(20, 900);
        var finishedAt = startedAt + TimeSpan.FromMilliseconds(duration);
        var roll = random.NextDouble();
        if (roll < 0.004)
            action.Failed = new ActionFailed(p.ActionId, p.RunId, p.AgentId, p.Tool, ExecutionErrorCodes.Timeout,
                "No answer from the tool within 10 s; the call may have taken effect.", true, 10_000, 1, startedAt + TimeSpan.FromSeconds(10), false,
                executor, startedAt);
        else if (roll < 0.02)
            action.Failed = new ActionFailed(p.ActionId, p.RunId, p.AgentId, p.Tool, "http_409", "The record changed meanwhile; read it again before retrying.",
                false, duration, 1, finishedAt, false, executor, startedAt);
        else
        {
            var (result, reference) = Result(p, finishedAt);
            action.Succeeded = new ActionSucceeded(p.ActionId, p.RunId, p.AgentId, p.Tool, result, reference, action.EstimatedCostUsd, duration, 1,
                finishedAt, executor, startedAt);
        }
    }

    (string Tool, string Operation, JsonElement Arguments, string Intent) Propose(string agent) => agent switch
    {
        "support-bot" => Pick(40, 12, 12, 18, 10, 4) switch
        {
            0 => ("ticketing", "create_ticket", Json(new { title = Title(), priority = Priority(), customerEmail = Email(), description = "Reported through chat." }), "open a ticket"),
            1 => ("ticketing", "get_ticket", Json(new { ticketId = Ticket() }), "check the ticket's status"),
            2 => ("ticketing", "comment", Json(new { ticketId = Ticket(), body = "We are looking into it and will write again today.", visibility = "public" }), "answer the customer"),
            3 => ("payments", "get_order", Json(new { orderId = Order() }), "look up the order"),
            4 => random.NextDouble() < 0.12
                ? ("payments", "refund", Json(new { orderId = Order(), amountUsd = random.Next(1_001, 2_000), reason = "Customer asks for a full refund." }), "refund an order")
                : ("payments", "refund", Json(new { orderId = Order(), amountUsd = random.Next(5, 100), reason = "Item arrived damaged." }), "refund part of an order"),
            _ => Pick(60, 15, 15, 10) switch
            {
                0 => ("payments", "refund", Json(new { orderId = Order(), amountUsd = random.Next(101, 900), reason = "Order never arrived." }), "refund a large order (needs a person)"),
                1 => ("ticketing", "create_ticket", Json(new { title = Title(), priority = "critical" }), "open a ticket"),
                2 => ("ticketing", "create_ticket", Json(new { title = Title(), priority = "high", description = "Card 4111 1111 1111 1111 was charged twice." }), "open a ticket"),
                _ => ("crm", "export_contacts", Json(new { segment = "all" }), "export the customer list"),
            },
        },
        "intern-bot" => Pick(80, 8, 6, 6) switch
        {
            0 => ("ticketing", "comment", Json(new { ticketId = Ticket(), body = "Checked the logs; escalating to the payments team.", visibility = "internal" }), "leave a note for the team"),
            1 => ("ticketing", "comment", Json(new { ticketId = Ticket(), body = "Hello, we are on it.", visibility = "public" }), "answer the customer"),
            2 => ("payments", "refund", Json(new { orderId = Order(), amountUsd = random.Next(5, 60), reason = "Goodwill." }), "refund part of an order"),
            _ => ("ticketing", "create_ticket", Json(new { title = Title(), priority = "low" }), "open a ticket"),
        },
        _ => Pick(90, 6, 4) switch
        {
            0 => ("payments", "get_order", Json(new { orderId = Order() }), "answer a question about an order"),
            1 => ("payments", "refund", Json(new { orderId = Order(), amountUsd = random.Next(5, 60), reason = "Customer asked in chat." }), "refund part of an order"),
            _ => ("ticketing", "get_ticket", Json(new { ticketId = Ticket() }), "check a ticket"),
        },
    };

    (JsonElement Result, string Reference) Result(ActionProposed p, DateTimeOffset at)
    {
        var args = p.Arguments;
        string Arg(string name) => args.TryGetProperty(name, out var v) ? v.ToString() : "";
        var n = ++_reference;
        return p.Operation switch
        {
            "create_ticket" => Reply(201, new { ticketId = $"TCK-{n:D6}", title = Arg("title"), priority = Arg("priority"), customerEmail = Arg("customerEmail"), status = "open", comments = Array.Empty<object>(), createdAt = at }, $"TCK-{n:D6}"),
            "get_ticket" => Reply(200, new { ticketId = Arg("ticketId"), title = Title(), priority = "normal", status = "open", comments = Array.Empty<object>() }, Arg("ticketId")),
            "comment" => Reply(201, new { commentId = $"CMT-{n:D6}", ticketId = Arg("ticketId"), visibility = Arg("visibility"), createdAt = at }, $"CMT-{n:D6}"),
            "get_order" => Reply(200, new { orderId = Arg("orderId"), customerEmail = Email(), currency = "USD", paidUsd = 250.00m, refundedUsd = 0m, remainingUsd = 250.00m, status = "paid" }, Arg("orderId")),
            _ => Reply(201, new { refundId = $"RF-{n:D6}", orderId = Arg("orderId"), amountUsd = args.GetProperty("amountUsd").GetDecimal(), reason = Arg("reason"), status = "succeeded", createdAt = at }, $"RF-{n:D6}"),
        };

        static (JsonElement, string) Reply(int status, object body, string reference) => (Json(new { status, body }), reference);
    }

    static JsonElement Json(object value) => JsonSerializer.SerializeToElement(value, WireJson.Options);

    static string Usd(decimal value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    string Pick(params (string Value, int Weight)[] choices) => choices[Pick(choices.Select(c => c.Weight).ToArray())].Value;

    int Pick(params int[] weights)
    {
        var roll = random.Next(weights.Sum());
        for (var i = 0; i < weights.Length; i++)
            if ((roll -= weights[i]) < 0)
                return i;
        return weights.Length - 1;
    }

    string Title() => Titles[random.Next(Titles.Length)];
    string Priority() => Priorities[random.Next(Priorities.Length)];
    string Email() => $"customer{random.Next(1, 5_000)}@example.com";
    string Ticket() => $"TCK-{random.Next(1, 200_000):D6}";
    string Order() => $"ORD-{random.Next(1_000, 99_999)}";

    static readonly string[] Priorities = ["low", "normal", "high", "urgent"];

    static readonly string[] Titles =
    [
        "Customer cannot log in", "Parcel arrived damaged", "Charged twice for one order", "Wrong size delivered",
        "Password reset mail never arrives", "Invoice address is wrong", "Order stuck in processing", "Refund not received yet",
    ];
}
