using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.DataBoundaries;
using AgentBus.Catalog.Schemas;

namespace AgentBus.Policy.Engine;

/// <summary>
/// Decides one proposal against one policy snapshot, in the documented order: envelope, identity,
/// kill switch, operation, grant, argument schema, grant constraints, destinations, data boundary, approval condition. Pure:
/// no bus, no database, no clock (the time and suspensions come in as <see cref="EvaluationState"/>),
/// so unit tests, `agentbus policy test|explain` and the benchmark call it directly. Deny is the
/// default at every step. A decision it permits carries the <see cref="AdmissionTerms"/> (rates,
/// run caps, budget) that the policy host then enforces atomically against PostgreSQL.
/// </summary>
public static class PolicyEvaluator
{
    static readonly ProposalValidator Validator = new();

    public static PolicyDecision Evaluate(ActionProposed proposal, string? brokerUserId, PolicySnapshot? policy) =>
        Evaluate(proposal, brokerUserId, policy, EvaluationState.At(DateTimeOffset.UnixEpoch));

    public static PolicyDecision Evaluate(ActionProposed proposal, string? brokerUserId, PolicySnapshot? policy,
        EvaluationState state, ICollection<EvaluationStep>? trace = null)
    {
        var decision = Decide(proposal, brokerUserId, policy, state, trace);
        trace?.Add(new("decision", decision.Decision.WireName(), decision.Reason, decision.RuleId));
        return decision;
    }

    static PolicyDecision Decide(ActionProposed proposal, string? brokerUserId, PolicySnapshot? policy,
        EvaluationState state, ICollection<EvaluationStep>? trace)
    {
        // 1. Envelope.
        var invalid = Validator.Validate(proposal);
        if (!invalid.IsValid)
        {
            var first = invalid.Errors[0];
            return Denied(trace, "envelope", PolicyDecision.Deny(first.ErrorCode, first.ErrorMessage, "envelope"));
        }
        trace?.Add(new("envelope", "pass", "Required fields present, identifiers well formed, sizes within limits."));

        // 2. Identity: the broker-validated user_id is the only identity an agent cannot forge.
        if (brokerUserId is null)
            return Denied(trace, "identity", PolicyDecision.Deny(ReasonCodes.IdentityMissing,
                $"The proposal claims agent '{proposal.AgentId}' but carries no AMQP user_id; set user_id to your broker user name.", "identity"));
        if (!string.Equals(brokerUserId, proposal.AgentId, StringComparison.Ordinal))
            return Denied(trace, "identity", PolicyDecision.Deny(ReasonCodes.IdentityMismatch,
                $"Broker user '{brokerUserId}' may not propose as agent '{proposal.AgentId}'.", "identity"));
        trace?.Add(new("identity", "pass", $"AMQP user_id '{brokerUserId}' matches agentId."));

        // Under rule "identity", so the proposal is not recorded under its action id: an agent cannot occupy
        // the id of a compensation that a rollback will propose later.
        if (MessageIds.IsReservedForRollback(proposal.ActionId) && !(policy?.Agents.GetValueOrDefault(proposal.AgentId)?.Rollback ?? false))
            return Denied(trace, "identity", PolicyDecision.Deny(ReasonCodes.ActionIdReserved,
                $"Action id {proposal.ActionId} carries the mark AgentBus reserves for rollback's compensations (a0b00d0e-…, UUID variant bits 111); use a UUID v7.", "identity"));

        if (policy is null)
            return Denied(trace, "policy", PolicyDecision.Deny(ReasonCodes.PolicyUnavailable, "No policy is loaded, so every action is denied.", "default-deny"));

        // 3. Kill switch: an operator's suspension, or status: suspended in the file.
        var agentKnown = policy.Agents.TryGetValue(proposal.AgentId, out var agent);
        var toolKnown = policy.Tools.TryGetValue(proposal.Tool, out var tool);
        if (state.Suspensions.Agents.Contains(proposal.AgentId))
            return Denied(trace, "kill switch", PolicyDecision.AgentSuspended(proposal.AgentId));
        if (state.Suspensions.Tools.Contains(proposal.Tool))
            return Denied(trace, "kill switch", PolicyDecision.ToolSuspended(proposal.Tool));
        if (agentKnown && agent!.Suspended)
            return Denied(trace, "kill switch", PolicyDecision.Deny(ReasonCodes.AgentSuspended,
                $"Agent '{proposal.AgentId}' has status suspended in the policy.", $"agents/{proposal.AgentId}"));
        if (toolKnown && tool!.Suspended)
            return Denied(trace, "kill switch", PolicyDecision.Deny(ReasonCodes.ToolSuspended,
                $"Tool '{proposal.Tool}' has status suspended in the policy.", $"tools/{proposal.Tool}"));
        trace?.Add(new("kill switch", "pass", "Neither the agent nor the tool is suspended."));

        // 4. Grant, arguments, constraints, destinations.
        if (!agentKnown)
            return Denied(trace, "grant", PolicyDecision.Deny(ReasonCodes.UnknownAgent, $"Agent '{proposal.AgentId}' is not in the policy.", "default-deny"));
        if (agent!.Rollback && proposal.Compensates is null)
            return Denied(trace, "rollback", PolicyDecision.Deny(ReasonCodes.CompensationRequired,
                $"Agent '{proposal.AgentId}' is a rollback identity: it may only undo a succeeded action (set 'compensates' to its action id).",
                $"agents/{proposal.AgentId}"));
        if (!agent.Rollback && proposal.Compensates is not null)
            return Denied(trace, "rollback", PolicyDecision.Deny(ReasonCodes.NotRollbackIdentity,
                $"Agent '{proposal.AgentId}' is not a rollback identity; only one (rollback: true in the policy) may propose a compensation.",
                $"agents/{proposal.AgentId}"));
        if (proposal.Compensates is not null)
            trace?.Add(new("rollback", "pass",
                $"Rollback identity '{proposal.AgentId}' undoes action {proposal.Compensates}; the policy service checks it against the stored action.",
                $"agents/{proposal.AgentId}"));
        if (!toolKnown)
            return Denied(trace, "grant", PolicyDecision.Deny(ReasonCodes.UnknownTool, $"Tool '{proposal.Tool}' is not in the policy.", "default-deny"));
        CatalogOperation? operation = null;
        if (tool!.Operations.Count > 0)
        {
            if (proposal.Operation is null || !tool.Operations.TryGetValue(proposal.Operation, out operation))
                return Denied(trace, "operation", PolicyDecision.Deny(ReasonCodes.UnknownOperation,
                    (proposal.Operation is null ? $"Tool '{tool.Name}' is a set of operations; name one" : $"Tool '{tool.Name}' has no operation '{proposal.Operation}'") +
                    $" ({string.Join(", ", tool.Operations.Keys.Order(StringComparer.Ordinal))}).", $"tools/{tool.Name}"));
            trace?.Add(new("operation", "pass", $"'{operation.FullName}' is in the catalog ({operation.Source}:{operation.Line}).", $"tools/{tool.Name}"));
        }
        else if (proposal.Operation is not null)
            return Denied(trace, "operation", PolicyDecision.Deny(ReasonCodes.UnknownOperation,
                $"Tool '{tool.Name}' has no operations; send the proposal without one.", $"tools/{tool.Name}"));

        var subject = operation?.FullName ?? tool.Name;
        if (!policy.Grants.TryGetValue((proposal.AgentId, proposal.Tool, operation?.Name ?? ""), out var grant))
            return Denied(trace, "grant", PolicyDecision.Deny(ReasonCodes.NoGrant,
                operation is null
                    ? $"Agent '{proposal.AgentId}' has no grant for tool '{proposal.Tool}'."
                    : $"Agent '{proposal.AgentId}' has no grant for operation '{subject}'.", "default-deny"));
        trace?.Add(new("grant", "pass", $"Grant '{grant.Id}' (line {grant.Line}) lets agent '{grant.Agent}' use '{subject}'.", grant.Id));

        var arguments = proposal.Arguments;
        var schemaRule = operation is null ? $"tools/{tool.Name}/arguments" : $"tools/{tool.Name}/{operation.Name}/arguments";
        if ((operation?.ArgumentSchema ?? tool.ArgumentSchema) is { } schema)
        {
            if (!ArgumentSchemas.Matches(schema, arguments))
                return Denied(trace, "arguments", PolicyDecision.Deny(ReasonCodes.InvalidArguments,
                    $"The arguments do not match the schema of '{subject}': {ArgumentSchemas.Describe(schema, arguments)}.", schemaRule));
            trace?.Add(new("arguments", "pass", $"The arguments match the JSON Schema of '{subject}'.", schemaRule));
        }
        else
            trace?.Add(new("arguments", "pass", $"Tool '{tool.Name}' declares no argument schema; any object is accepted."));

        foreach (var constraint in grant.Constraints)
        {
            if (constraint.Violation(arguments) is { } violation)
                return Denied(trace, "constraints", PolicyDecision.Deny(ReasonCodes.ConstraintViolated,
                    $"Grant '{grant.Id}' does not allow this: {violation} (rule {constraint.Describe()}).", constraint.RuleId));
            trace?.Add(new("constraints", "pass", constraint.Describe(), constraint.RuleId));
        }

        if (tool.DestinationArguments.Count > 0)
        {
            foreach (var pointer in tool.DestinationArguments)
            {
                if (!pointer.ForEach(arguments, (tool, grant, pointer), static (value, s) => Allows(s.tool, s.grant, value, s.pointer), out _))
                    return Denied(trace, "destinations", DestinationDenial(pointer, arguments, tool, grant));
            }
            trace?.Add(new("destinations", "pass",
                $"Every destination named at {string.Join(", ", tool.DestinationArguments)} is allowed ({tool.Destinations!.Describe()}" +
                (grant.Destinations is { } narrowed ? $"; narrowed by the grant to {narrowed.Describe()})" : ")"), $"tools/{tool.Name}/destinations"));
        }

        // What the arguments carry, wherever they go: the classifier never returns a value, so neither can the reason.
        var classification = DataClassifier.Classify(arguments);
        if (grant.DataBoundary.Check(classification) is { } breach)
            return Denied(trace, "data boundary", PolicyDecision.Deny(ReasonCodes.DataBoundary,
                $"'{subject}' may not receive this from agent '{grant.Agent}': {breach.Describe()}. It accepts {grant.DataBoundary.Describe()}.",
                grant.DataBoundaryRuleId));
        trace?.Add(new("data boundary", "pass", classification.Findings.Count == 0
            ? $"No secrets or personal data in the arguments ('{subject}' accepts {grant.DataBoundary.Describe()})."
            : $"Found {string.Join(", ", classification.Findings.Select(f => f.Class).Distinct(StringComparer.Ordinal))}; '{subject}' accepts {grant.DataBoundary.Describe()}.",
            grant.DataBoundaryRuleId));

        // 5 and 6 (rates, run caps, budget) need shared state: the policy host enforces grant.Terms.
        if (trace is not null)
            TraceTerms(trace, grant.Terms);

        // 7. Approval condition.
        if (grant.Approval is { } approval && approval.Applies(arguments))
        {
            var requirement = new ApprovalRequirement(approval.RuleId, approval.Group, approval.Approvers, approval.Expiry, state.Now + approval.Expiry)
            {
                AgentTeam = approval.AgentTeam,
                RequestedBy = approval.RequestedBy,
                ExcludedApprovers = approval.ExcludedApprovers,
                EscalationGroup = approval.EscalationGroup,
                EscalationDelay = approval.EscalationDelay,
            };
            trace?.Add(new("approval", "approval required", $"Needed when {approval.DescribeCondition()}; that holds here.", approval.RuleId));
            return new PolicyDecision(Decision.ApprovalRequired, ReasonCodes.ApprovalRequired, approval.Reason, approval.RuleId)
            {
                Approval = requirement,
                Terms = grant.Terms,
            };
        }
        if (grant.Approval is { } notNeeded)
            trace?.Add(new("approval", "pass", $"Approval is needed only when {notNeeded.DescribeCondition()}; not the case here.", notNeeded.RuleId));

        return grant.Allow;
    }

    static bool Allows(ToolPolicy tool, GrantPolicy grant, JsonElement value, Rules.ArgumentPointer pointer) =>
        tool.Destinations!.Violation(value, pointer.Text) is null && grant.Destinations?.Violation(value, pointer.Text) is null;

    /// <summary>The rare path: find the first refused destination again and say who refused it.</summary>
    static PolicyDecision DestinationDenial(Rules.ArgumentPointer pointer, JsonElement arguments, ToolPolicy tool, GrantPolicy grant)
    {
        string? violation = null;
        string? ruleId = null;
        pointer.ForEach(arguments, 0, (value, _) =>
        {
            if (tool.Destinations!.Violation(value, pointer.Text) is { } byTool)
                (violation, ruleId) = (byTool, $"tools/{tool.Name}/destinations");
            else if (grant.Destinations?.Violation(value, pointer.Text) is { } byGrant)
                (violation, ruleId) = (byGrant, $"{grant.Id}/destinations");
            return violation is null;
        }, out _);
        return PolicyDecision.Deny(ReasonCodes.DestinationNotAllowed,
            $"Tool '{tool.Name}' may not send data there for agent '{grant.Agent}': {violation}.", ruleId);
    }

    static void TraceTerms(ICollection<EvaluationStep> trace, AdmissionTerms terms)
    {
        static string Show<T>(RuleLimit<T>? limit, Func<T, string> format) => limit is null ? "unlimited" : $"{format(limit.Value)} ({limit.RuleId})";
        trace.Add(new("limits", "checked by the policy host",
            $"agent {Show(terms.AgentCallsPerMinute, v => $"{v}/min")}; tool {Show(terms.ToolCallsPerMinute, v => $"{v}/min")}; " +
            (terms.OperationCallsPerMinute is null ? "" : $"operation {Show(terms.OperationCallsPerMinute, v => $"{v}/min")}; ") +
            $"per run: {Show(terms.RunToolCalls, v => $"{v} tool calls")}, {Show(terms.RunRetries, v => $"{v} retries of the same action")}, " +
            $"{Show(terms.RunDuration, Durations.Format)} wall-clock"));
        trace.Add(new("budget", "checked by the policy host",
            $"reserve ${terms.EstimatedCostUsd.ToString(System.Globalization.CultureInfo.InvariantCulture)}; per day {Show(terms.PerDayUsd, Usd)}; per run {Show(terms.PerRunUsd, Usd)}"));
    }

    static string Usd(decimal value) => "$" + value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    static PolicyDecision Denied(ICollection<EvaluationStep>? trace, string step, PolicyDecision decision)
    {
        trace?.Add(new(step, "deny", decision.Reason, decision.RuleId));
        return decision;
    }

}
