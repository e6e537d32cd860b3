using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using static AgentBus.UnitTests.Policy.TestPolicy;

namespace AgentBus.UnitTests.Policy;

/// <summary>
/// Data boundaries in the policy: what a generic tool and a grant may accept, what an agent may
/// receive, how the loader refuses a boundary that cannot mean what it says, and how the evaluator
/// denies a proposal carrying more than its grant accepts without ever repeating the value.
/// </summary>
public sealed class DataBoundaryPolicyTests
{
    static readonly string ShippedPolicy = Path.Combine(RepoRoot.Path, "ops", "policies", "policy.yaml");

    /// <summary>A generic tool accepting addresses (at most 3) and phone numbers, and grants for two agents.</summary>
    const string Policy = """
        agents:
          - { id: mailer, receives: [pii.email] }
          - { id: narrow-mailer }
        tools:
          - name: mail
            accepts: [pii.email, pii.phone]
            max: { pii.email: 3 }
        grants:
          - { id: mailer-mail, agent: mailer, tool: mail }
          - id: narrow-mail
            agent: narrow-mailer
            tool: mail
            accepts: [pii.email]
            max: { pii.email: 1 }
        """;

    static PolicySnapshot Load(string text = Policy)
    {
        var result = PolicyLoader.Parse(text, "p.yaml");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Policy!;
    }

    static void Refused(string text, int line, string expected)
    {
        var result = PolicyLoader.Parse(text, "p.yaml");
        Assert.Null(result.Policy);
        var error = Assert.Single(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
        Assert.StartsWith($"p.yaml:{line}:", error);
    }

    [Theory]
    [InlineData("agents:\n  - id: a\n    receives: [pii.emial]", 2, "receives names unknown data class 'pii.emial'")]
    [InlineData("tools:\n  - name: t\n    accepts: [pii.emial]", 2, "accepts names unknown data class 'pii.emial'")]
    [InlineData("tools:\n  - name: t\n    accepts: [pii.email]\n    max: { pii.emial: 2 }", 2, "max names unknown data class 'pii.emial'")]
    [InlineData("tools:\n  - name: t\n    accepts: [pii.email]\n    max: { pii.phone: 2 }", 2, "max limits 'pii.phone', which accepts does not list")]
    [InlineData("tools:\n  - name: t\n    accepts: [pii.email]\n    max: { pii.email: 0 }", 2, "max for 'pii.email' is 0; a limit is at least 1")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t, accepts: [pii.email]}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    accepts: [pii.emial]", 4, "grant 'g': accepts names unknown data class 'pii.emial'")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t, accepts: [pii.email]}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    max: { pii.email: -1 }", 4, "max for 'pii.email' is -1")]
    public void A_boundary_that_cannot_mean_what_it_says_is_refused_with_its_line(string text, int line, string expected) =>
        Refused(text, line, expected);

    [Fact]
    public void A_grant_accepting_a_class_none_of_its_operations_accepts_is_refused_it_can_only_narrow()
    {
        Refused("""
            agents: [{ id: a }]
            tools: [{ name: t, accepts: [pii.email] }]
            grants:
              - id: g
                agent: a
                tool: t
                accepts: [pii.email, pii.card]
            """, 4, "grant 'g' accepts or limits 'pii.card', which none of its operations accepts");

        // The same for a catalog operation: the shipped ticketing operations accept addresses only.
        var shipped = File.ReadAllText(ShippedPolicy).Replace(
            "    operations: [create_ticket, get_ticket, comment]\n",
            "    operations: [create_ticket, get_ticket, comment]\n    max: { pii.phone: 1 }\n");
        var result = PolicyLoader.Parse(shipped, ShippedPolicy);
        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.Contains("accepts or limits 'pii.phone', which none of its operations accepts", StringComparison.Ordinal));
    }

    [Fact]
    public void A_grant_narrows_to_the_intersection_of_classes_and_the_lower_of_two_limits()
    {
        var policy = Load("""
            agents: [{ id: a }, { id: b }]
            tools:
              - name: t
                accepts: [pii.email, pii.phone, pii.iban]
                max: { pii.email: 3, pii.phone: 2 }
            grants:
              - id: g
                agent: a
                tool: t
                accepts: [pii.email, pii.phone]
                max: { pii.email: 5, pii.phone: 1 }
              - id: h
                agent: b
                tool: t
                max: { pii.iban: 1 }
            """);

        var narrowed = policy.Grants[("a", "t", "")];
        Assert.Equal(["pii.email", "pii.phone"], narrowed.DataBoundary.Accepts.Order(StringComparer.Ordinal));
        // A grant cannot raise the tool's limit: the lower one holds.
        Assert.Equal(3, narrowed.DataBoundary.Max["pii.email"]);
        Assert.Equal(1, narrowed.DataBoundary.Max["pii.phone"]);
        Assert.Equal("g/accepts", narrowed.DataBoundaryRuleId);

        // Max alone keeps every class and adds a limit where there was none.
        var limited = policy.Grants[("b", "t", "")];
        Assert.Equal("pii.email (at most 3), pii.iban (at most 1), pii.phone (at most 2)", limited.DataBoundary.Describe());
        Assert.Equal("h/accepts", limited.DataBoundaryRuleId);
    }

    [Fact]
    public void Without_a_narrowing_the_grant_has_its_tools_or_operations_boundary_and_an_agent_its_receives()
    {
        var policy = Load();
        Assert.Equal("pii.email (at most 3), pii.phone", policy.Grants[("mailer", "mail", "")].DataBoundary.Describe());
        Assert.Equal("tools/mail/accepts", policy.Grants[("mailer", "mail", "")].DataBoundaryRuleId);
        Assert.Equal(["pii.email"], policy.Agents["mailer"].Receives);
        Assert.Empty(policy.Agents["narrow-mailer"].Receives);

        var shipped = PolicyLoader.LoadFile(ShippedPolicy).Policy!;
        var ticket = shipped.Grants[("support-bot", "ticketing", "create_ticket")];
        Assert.Equal("pii.email (at most 2)", ticket.DataBoundary.Describe());
        Assert.Equal("tools/ticketing/create_ticket/accepts", ticket.DataBoundaryRuleId);
        Assert.Equal("nothing", shipped.Grants[("support-bot", "ticketing", "comment")].DataBoundary.Describe());
    }

    [Fact]
    public void A_denial_names_the_class_and_where_it_was_found_but_never_the_value()
    {
        const string card = "4111 1111 1111 1111";
        var decision = PolicyEvaluator.Evaluate(Proposal("mailer", "mail", $$"""{"to":"jo@example.com","note":"card {{card}} on file"}"""), "mailer", Load());

        Assert.Equal((Decision.Denied, ReasonCodes.DataBoundary, "tools/mail/accepts"), (decision.Decision, decision.ReasonCode, decision.RuleId));
        Assert.Contains("pii.card at /note", decision.Reason);
        Assert.DoesNotContain(card, decision.Reason);
        Assert.DoesNotContain("4111", decision.Reason);
        Assert.DoesNotContain("jo@example.com", decision.Reason);
    }

    [Fact]
    public void A_grant_that_narrowed_is_the_rule_a_denial_names()
    {
        var decision = PolicyEvaluator.Evaluate(Proposal("narrow-mailer", "mail", """{"to":"jo@example.com","phone":"+44 20 7946 0958"}"""), "narrow-mailer", Load());

        Assert.Equal((ReasonCodes.DataBoundary, "narrow-mail/accepts"), (decision.ReasonCode, decision.RuleId));
        Assert.Contains("pii.phone", decision.Reason);
        Assert.DoesNotContain("7946", decision.Reason);
    }

    [Fact]
    public void The_limit_counts_occurrences_so_three_addresses_in_one_string_are_three()
    {
        var policy = Load();
        const string three = """{"to":"a@example.com, b@example.com, c@example.com"}""";
        const string four = """{"to":"a@example.com, b@example.com, c@example.com","cc":"d@example.com"}""";

        Assert.Equal(ReasonCodes.Allowed, PolicyEvaluator.Evaluate(Proposal("mailer", "mail", three), "mailer", policy).ReasonCode);
        var overTools = PolicyEvaluator.Evaluate(Proposal("mailer", "mail", four), "mailer", policy);
        Assert.Equal(ReasonCodes.DataBoundary, overTools.ReasonCode);
        Assert.Contains("pii.email 4 times", overTools.Reason);
        Assert.Contains("(at most 3)", overTools.Reason);

        // The grant's limit is 1: one string of three addresses is over it.
        var overGrant = PolicyEvaluator.Evaluate(Proposal("narrow-mailer", "mail", three), "narrow-mailer", policy);
        Assert.Equal((ReasonCodes.DataBoundary, "narrow-mail/accepts"), (overGrant.ReasonCode, overGrant.RuleId));
        Assert.Contains("pii.email 3 times at /to", overGrant.Reason);
        Assert.DoesNotContain("a@example.com", overGrant.Reason);
    }

    [Fact]
    public void Who_can_shows_the_effective_boundary_per_operation_and_what_each_agent_receives()
    {
        var (rows, error, _) = WhoCan.Query(Load(), "mail");
        Assert.Null(error);
        var mailer = rows.Single(r => r.Agent == "mailer");
        Assert.Equal(("pii.email (at most 3), pii.phone", "tools/mail/accepts"), (mailer.Accepts, mailer.AcceptsRuleId));
        Assert.Equal(["pii.email"], mailer.Receives);
        var narrow = rows.Single(r => r.Agent == "narrow-mailer");
        Assert.Equal("pii.email (at most 3), pii.phone, narrowed to pii.email (at most 1)", narrow.Accepts);
        Assert.Equal("narrow-mail/accepts", narrow.AcceptsRuleId);
        Assert.Empty(narrow.Receives);

        var shipped = PolicyLoader.LoadFile(ShippedPolicy).Policy!;
        var ticket = Assert.Single(WhoCan.Query(shipped, "ticketing.create_ticket").Rows);
        Assert.Equal(("support-bot", "pii.email (at most 2)"), (ticket.Agent, ticket.Accepts));
    }
}
