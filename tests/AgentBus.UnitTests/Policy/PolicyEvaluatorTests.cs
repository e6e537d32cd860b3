using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using static AgentBus.UnitTests.Policy.TestPolicy;

namespace AgentBus.UnitTests.Policy;

/// <summary>Every rule kind and every reason code the pure evaluator gives, one row each.</summary>
public class PolicyEvaluatorTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 24, 13, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, ActionProposed, string?, string, string?> Cases() => new()
    {
        // Allowed, by the grant.
        { "granted", Proposal("support-bot", "ticketing", Ticket), "support-bot", ReasonCodes.Allowed, "support-tickets" },
        { "granted with every constraint holding", Proposal("support-bot", "payments", Refund("25", ",\"currency\":\"EUR\"")), "support-bot", ReasonCodes.Allowed, "support-refunds" },
        { "approval condition false (GET)", Proposal("support-bot", "payments", """{"method":"GET","url":"http://127.0.0.1:5080/payments/orders/ORD-1"}"""), "support-bot", ReasonCodes.Allowed, "support-refunds" },

        // 1. Envelope.
        { "action id not a uuid", Proposal("support-bot", "ticketing", Ticket, actionId: "42"), "support-bot", ReasonCodes.InvalidField, "envelope" },
        { "action id missing", Proposal("support-bot", "ticketing", Ticket, actionId: ""), "support-bot", ReasonCodes.MissingField, "envelope" },
        { "run id with spaces", Proposal("support-bot", "ticketing", Ticket, runId: "run 1"), "support-bot", ReasonCodes.InvalidField, "envelope" },
        { "run id too long", Proposal("support-bot", "ticketing", Ticket, runId: new string('r', 129)), "support-bot", ReasonCodes.InvalidField, "envelope" },
        { "agent id with capitals", Proposal("Support-Bot", "ticketing", Ticket), "Support-Bot", ReasonCodes.InvalidField, "envelope" },
        { "tool with a path", Proposal("support-bot", "../payments", Ticket), "support-bot", ReasonCodes.InvalidField, "envelope" },

        // 2. Identity.
        { "no user_id", Proposal("support-bot", "ticketing", Ticket), null, ReasonCodes.IdentityMissing, "identity" },
        { "user_id of another agent", Proposal("support-bot", "ticketing", Ticket), "intern-bot", ReasonCodes.IdentityMismatch, "identity" },

        // 3. Kill switch in the file.
        { "agent suspended in the policy", Proposal("retired-bot", "ticketing", Ticket), "retired-bot", ReasonCodes.AgentSuspended, "agents/retired-bot" },
        { "tool suspended in the policy", Proposal("support-bot", "legacy", "{}"), "support-bot", ReasonCodes.ToolSuspended, "tools/legacy" },

        // 4. Grant.
        { "unknown agent", Proposal("ghost-bot", "ticketing", Ticket), "ghost-bot", ReasonCodes.UnknownAgent, "default-deny" },
        { "unknown tool", Proposal("support-bot", "crm", "{}"), "support-bot", ReasonCodes.UnknownTool, "default-deny" },
        { "no grant", Proposal("intern-bot", "payments", Refund("5")), "intern-bot", ReasonCodes.NoGrant, "default-deny" },

        // 4. Arguments against the tool's JSON Schema.
        { "schema: missing required", Proposal("support-bot", "ticketing", """{"method":"POST"}"""), "support-bot", ReasonCodes.InvalidArguments, "tools/ticketing/arguments" },
        { "schema: enum", Proposal("support-bot", "ticketing", """{"method":"DELETE","url":"http://127.0.0.1:5080/ticketing/x"}"""), "support-bot", ReasonCodes.InvalidArguments, "tools/ticketing/arguments" },
        { "schema: additional property", Proposal("support-bot", "ticketing", """{"method":"GET","url":"http://127.0.0.1:5080/ticketing/x","sudo":true}"""), "support-bot", ReasonCodes.InvalidArguments, "tools/ticketing/arguments" },
        { "schema: wrong type", Proposal("support-bot", "payments", Refund("\"25\"")), "support-bot", ReasonCodes.InvalidArguments, "tools/payments/arguments" },
        { "schema: too long", Proposal("support-bot", "ticketing", "{\"method\":\"GET\",\"url\":\"http://127.0.0.1:5080/ticketing/" + new string('x', 200) + "\"}"), "support-bot", ReasonCodes.InvalidArguments, "tools/ticketing/arguments" },

        // 4. Grant constraints: every predicate kind.
        { "constraint: max", Proposal("support-bot", "payments", Refund("1000.01")), "support-bot", ReasonCodes.ConstraintViolated, "support-refunds/constraints/ceiling" },
        { "constraint: above", Proposal("support-bot", "payments", Refund("0")), "support-bot", ReasonCodes.ConstraintViolated, "support-refunds/constraints/floor" },
        { "constraint: min", Proposal("support-bot", "payments", Refund("0.25")), "support-bot", ReasonCodes.ConstraintViolated, "support-refunds/constraints/small-change" },
        { "constraint: in", Proposal("support-bot", "payments", Refund("25", ",\"currency\":\"GBP\"")), "support-bot", ReasonCodes.ConstraintViolated, "support-refunds/constraints/currency" },
        { "constraint: pattern", Proposal("support-bot", "payments", """{"method":"POST","url":"http://127.0.0.1:5080/payments/refunds","body":{"orderId":"X-1","amountUsd":5}}"""), "support-bot", ReasonCodes.ConstraintViolated, "support-refunds/constraints/order-format" },
        { "constraint: maxLength", Proposal("support-bot", "payments", """{"method":"POST","url":"http://127.0.0.1:5080/payments/refunds","body":{"orderId":"ORD-1234567890","amountUsd":5}}"""), "support-bot", ReasonCodes.ConstraintViolated, "support-refunds/constraints/order-format" },
        { "constraint: in on method", Proposal("intern-bot", "ticketing", Ticket), "intern-bot", ReasonCodes.ConstraintViolated, "intern-tickets/constraints/method" },

        // 4. Destinations: URL prefixes, hosts, channels, the grant's narrowing.
        { "destination: other host", Proposal("support-bot", "ticketing", """{"method":"POST","url":"https://paste.example.com/upload"}"""), "support-bot", ReasonCodes.DestinationNotAllowed, "tools/ticketing/destinations" },
        { "destination: prefix is not a segment", Proposal("support-bot", "ticketing", """{"method":"POST","url":"http://127.0.0.1:5080/ticketing-admin/x"}"""), "support-bot", ReasonCodes.DestinationNotAllowed, "tools/ticketing/destinations" },
        { "destination: other port", Proposal("support-bot", "ticketing", """{"method":"POST","url":"http://127.0.0.1:5081/ticketing/x"}"""), "support-bot", ReasonCodes.DestinationNotAllowed, "tools/ticketing/destinations" },
        { "destination: credentials smuggle a host", Proposal("support-bot", "ticketing", """{"method":"POST","url":"http://127.0.0.1:5080@evil.example/ticketing/x"}"""), "support-bot", ReasonCodes.DestinationNotAllowed, "tools/ticketing/destinations" },
        { "destination: dot segments", Proposal("support-bot", "ticketing", """{"method":"POST","url":"http://127.0.0.1:5080/ticketing/../admin"}"""), "support-bot", ReasonCodes.DestinationNotAllowed, "tools/ticketing/destinations" },
        { "destination: allowed host, any path", Proposal("support-bot", "ticketing", """{"method":"POST","url":"https://tickets.internal/anything"}"""), "support-bot", ReasonCodes.Allowed, "support-tickets" },
        { "destination: every channel checked", Proposal("notify-bot", "chat", """{"channels":["#support","#random"],"text":"hi"}"""), "notify-bot", ReasonCodes.DestinationNotAllowed, "tools/chat/destinations" },
        { "destination: narrowed by the grant", Proposal("notify-bot", "chat", """{"channels":["#ops"],"text":"hi"}"""), "notify-bot", ReasonCodes.DestinationNotAllowed, "notify-chat/destinations" },

        // 7. Approval.
        { "approval above the threshold", Proposal("support-bot", "payments", Refund("100.01")), "support-bot", ReasonCodes.ApprovalRequired, "large-refund" },
        { "approval when the amount is missing (fail safe)", Proposal("support-bot", "payments", """{"method":"POST","url":"http://127.0.0.1:5080/payments/refunds","body":{"orderId":"ORD-1"}}"""), "support-bot", ReasonCodes.ApprovalRequired, "large-refund" },
        { "approval at the threshold is not needed", Proposal("support-bot", "payments", Refund("100")), "support-bot", ReasonCodes.Allowed, "support-refunds" },
        { "approval always (no condition)", Proposal("notify-bot", "chat", """{"channels":["#support-eu"],"text":"hi"}"""), "notify-bot", ReasonCodes.ApprovalRequired, "notify-chat/approval" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decides_with_the_expected_reason_and_rule(string because, ActionProposed proposal, string? brokerUser, string reasonCode, string? ruleId)
    {
        var decision = PolicyEvaluator.Evaluate(proposal, brokerUser, TestPolicy.Policy, EvaluationState.At(Now));

        Assert.True(reasonCode == decision.ReasonCode, $"{because}: expected {reasonCode}, got {decision.ReasonCode} ({decision.Reason})");
        Assert.True(ruleId == decision.RuleId, $"{because}: expected rule {ruleId}, got {decision.RuleId} ({decision.Reason})");
        var expected = reasonCode switch
        {
            ReasonCodes.Allowed => Decision.Allowed,
            ReasonCodes.ApprovalRequired => Decision.ApprovalRequired,
            _ => Decision.Denied,
        };
        Assert.Equal(expected, decision.Decision);
        Assert.False(string.IsNullOrWhiteSpace(decision.Reason));
        Assert.Equal(expected != Decision.Denied, decision.Terms is not null);
    }

    [Fact]
    public void No_policy_denies_everything() =>
        Assert.Equal(ReasonCodes.PolicyUnavailable, PolicyEvaluator.Evaluate(Proposal("support-bot", "ticketing", Ticket), "support-bot", null).ReasonCode);

    [Fact]
    public void Arguments_that_are_not_an_object_are_refused()
    {
        var proposal = Proposal("support-bot", "ticketing", Ticket) with { Arguments = JsonDocument.Parse("[1]").RootElement };
        Assert.Equal(ReasonCodes.InvalidFieldType, PolicyEvaluator.Evaluate(proposal, "support-bot", TestPolicy.Policy).ReasonCode);
    }

    [Fact]
    public void Missing_arguments_are_refused()
    {
        var proposal = Proposal("support-bot", "ticketing", Ticket) with { Arguments = default };
        Assert.Equal(ReasonCodes.MissingField, PolicyEvaluator.Evaluate(proposal, "support-bot", TestPolicy.Policy).ReasonCode);
    }

    [Fact]
    public void Identity_is_checked_before_the_policy_so_a_spoofer_learns_nothing_about_grants()
    {
        var decision = PolicyEvaluator.Evaluate(Proposal("ghost-bot", "ticketing", Ticket), "support-bot", TestPolicy.Policy);
        Assert.Equal(ReasonCodes.IdentityMismatch, decision.ReasonCode);
    }

    [Theory]
    [InlineData("agent", ReasonCodes.AgentSuspended)]
    [InlineData("tool", ReasonCodes.ToolSuspended)]
    public void An_operators_suspension_denies_before_any_grant_is_looked_at(string kind, string reasonCode)
    {
        var suspensions = kind == "agent" ? new SuspensionSet(["support-bot"], []) : new SuspensionSet([], ["ticketing"]);
        var decision = PolicyEvaluator.Evaluate(Proposal("support-bot", "ticketing", Ticket), "support-bot", TestPolicy.Policy, new EvaluationState(Now, suspensions));
        Assert.Equal(reasonCode, decision.ReasonCode);
        Assert.Equal("kill-switch", decision.RuleId);
    }

    [Fact]
    public void An_approval_decision_carries_the_group_quorum_and_expiry()
    {
        var decision = PolicyEvaluator.Evaluate(Proposal("support-bot", "payments", Refund("250")), "support-bot", TestPolicy.Policy, EvaluationState.At(Now));

        var approval = Assert.IsType<ApprovalRequirement>(decision.Approval);
        Assert.Equal(("large-refund", "payments-approvers", 2), (approval.RuleId, approval.Group, approval.Approvers));
        Assert.Equal(TimeSpan.FromMinutes(30), approval.Expiry);
        Assert.Equal(Now.AddMinutes(30), approval.ExpiresAt);
        Assert.Equal(Now, approval.RequestedAt);
        // Separation of duties: the owner asked for it, the owning team may not approve it.
        Assert.Equal(("sam", "support"), (approval.RequestedBy, approval.AgentTeam));
        Assert.Equal(["sam", "tina"], approval.ExcludedApprovers);
        Assert.Equal(("finance-leads", TimeSpan.FromMinutes(10)), (approval.EscalationGroup, approval.EscalationDelay));
    }

    [Fact]
    public void A_permitted_decision_carries_the_limits_and_budget_the_host_enforces()
    {
        var terms = PolicyEvaluator.Evaluate(Proposal("intern-bot", "ticketing", """{"method":"GET","url":"http://127.0.0.1:5080/ticketing/t"}"""), "intern-bot", TestPolicy.Policy).Terms!;

        Assert.Equal(0.002m, terms.EstimatedCostUsd);
        Assert.Equal(new RuleLimit<int>(5, "limits.agents.intern-bot.callsPerMinute"), terms.AgentCallsPerMinute);
        Assert.Null(terms.ToolCallsPerMinute);
        Assert.Equal(new RuleLimit<int>(20, "limits.default.run.maxToolCalls"), terms.RunToolCalls);
        Assert.Equal(new RuleLimit<int>(2, "limits.default.run.maxRetries"), terms.RunRetries);
        Assert.Equal(new RuleLimit<TimeSpan>(TimeSpan.FromHours(1), "limits.default.run.maxDuration"), terms.RunDuration);
        Assert.Equal(new RuleLimit<decimal>(1m, "budgets.default.perDayUsd"), terms.PerDayUsd);
        Assert.Equal(new RuleLimit<decimal>(0.25m, "budgets.default.perRunUsd"), terms.PerRunUsd);

        var support = PolicyEvaluator.Evaluate(Proposal("support-bot", "payments", Refund("5")), "support-bot", TestPolicy.Policy).Terms!;
        Assert.Equal(new RuleLimit<int>(30, "limits.tools.payments.callsPerMinute"), support.ToolCallsPerMinute);
        Assert.Equal(new RuleLimit<decimal>(10m, "budgets.agents.support-bot.perDayUsd"), support.PerDayUsd);
        Assert.Equal(new RuleLimit<decimal>(0.25m, "budgets.default.perRunUsd"), support.PerRunUsd);
    }

    [Fact]
    public void Explain_records_every_step_in_order()
    {
        var steps = new List<EvaluationStep>();
        PolicyEvaluator.Evaluate(Proposal("support-bot", "payments", Refund("250")), "support-bot", TestPolicy.Policy, EvaluationState.At(Now), steps);

        Assert.Equal(["envelope", "identity", "kill switch", "grant", "arguments", "constraints", "constraints", "constraints",
            "constraints", "constraints", "constraints", "destinations", "data boundary", "limits", "budget", "approval", "decision"], steps.Select(s => s.Step));
        Assert.Equal("approval_required", steps[^1].Outcome);
    }

    [Theory]
    [InlineData("""{"email":"a@example.com"}""", ReasonCodes.Allowed)]
    [InlineData("""{"email":42}""", ReasonCodes.InvalidArguments)]
    [InlineData("""{"email":"a@example.com","extra":1}""", ReasonCodes.InvalidArguments)]
    public void A_schema_with_refs_is_evaluated_by_JsonSchema_Net(string arguments, string reasonCode)
    {
        var policy = PolicyLoader.Parse("""
            agents: [{ id: a }]
            tools:
              - name: crm
                arguments:
                  $defs: { address: { type: string, minLength: 3 } }
                  type: object
                  required: [email]
                  additionalProperties: false
                  properties: { email: { $ref: "#/$defs/address" } }
                accepts: [pii.email]
            grants: [{ id: g, agent: a, tool: crm }]
            """, "ref.yaml").Policy!;

        var decision = PolicyEvaluator.Evaluate(Proposal("a", "crm", arguments), "a", policy);
        Assert.Equal(reasonCode, decision.ReasonCode);
    }

    public static TheoryData<string, string> Lengths() => new()
    {
        // 200 code points: the limit.
        { new string('a', 200), ReasonCodes.Allowed },
        // 100 letters and 100 zero-width joiners: 199 text elements would pass a grapheme count, 200 code points fit.
        { string.Concat(Enumerable.Repeat("a\u200d", 100)), ReasonCodes.Allowed },
        // 150 letters, each followed by a zero-width space: 300 code points.
        { string.Concat(Enumerable.Repeat("a\u200b", 150)), ReasonCodes.InvalidArguments },
        // 201 combining marks on one letter: one grapheme cluster, 202 code points.
        { "e" + new string('\u0301', 201), ReasonCodes.InvalidArguments },
        // 200 emoji outside the BMP: 400 UTF-16 units, 200 code points.
        { string.Concat(Enumerable.Repeat("\U0001F600", 200)), ReasonCodes.Allowed },
    };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void String_lengths_are_counted_in_code_points_not_grapheme_clusters(string note, string reasonCode)
    {
        var policy = PolicyLoader.Parse("""
            agents: [{ id: a }]
            tools:
              - name: crm
                arguments:
                  type: object
                  properties: { note: { type: string, maxLength: 200, minLength: 1 } }
            grants: [{ id: g, agent: a, tool: crm }]
            """, "lengths.yaml").Policy!;
        var arguments = System.Text.Json.JsonSerializer.Serialize(new { note });

        Assert.Equal(reasonCode, PolicyEvaluator.Evaluate(Proposal("a", "crm", arguments), "a", policy).ReasonCode);
    }

    [Fact]
    public void An_argument_schema_in_another_dialect_is_refused_when_the_policy_loads()
    {
        var result = PolicyLoader.Parse("""
            agents: [{ id: a }]
            tools:
              - name: crm
                arguments: { $schema: "http://json-schema.org/draft-07/schema#", type: object }
            grants: [{ id: g, agent: a, tool: crm }]
            """, "dialect.yaml");

        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.Contains("$schema must be https://json-schema.org/draft/2020-12/schema"));
    }

    [Fact]
    public void Explain_stops_at_the_step_that_denies()
    {
        var steps = new List<EvaluationStep>();
        PolicyEvaluator.Evaluate(Proposal("support-bot", "ticketing", """{"method":"POST","url":"https://paste.example.com/x"}"""), "support-bot", TestPolicy.Policy, EvaluationState.At(Now), steps);

        var deny = Assert.Single(steps, s => s.Outcome == "deny");
        Assert.Equal("destinations", deny.Step);
        Assert.Contains("paste.example.com", deny.Detail);
    }
}
