using AgentBus.Policy.Engine;
using static AgentBus.Policy.Engine.PolicyChangeEffect;
using static AgentBus.Policy.Engine.PolicyChangeKind;

namespace AgentBus.UnitTests.Policy;

/// <summary>`agentbus policy diff`: what changes for agents between two policies, compared as the policy service applies them.</summary>
public sealed class PolicyDiffTests
{
    static readonly string PoliciesFolder = Path.Combine(RepoRoot.Path, "ops", "policies");
    static readonly string ShippedText = File.ReadAllText(Path.Combine(PoliciesFolder, "policy.yaml"));

    static PolicySnapshot Shipped() => Parse(ShippedText);

    /// <summary>Parsed as if it sat beside the shipped policy, so `catalog: ../catalog` finds the shipped catalog.</summary>
    static PolicySnapshot Parse(string text)
    {
        var result = PolicyLoader.Parse(text, Path.Combine(PoliciesFolder, "edited.yaml"));
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Policy!;
    }

    static string Edit(string text, params (string From, string To)[] edits)
    {
        foreach (var (from, to) in edits)
        {
            Assert.Contains(from, text);
            text = text.Replace(from, to);
        }
        return text;
    }

    static PolicySnapshot Example(string name)
    {
        var result = PolicyLoader.LoadFile(Path.Combine(PoliciesFolder, "examples", name));
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Policy!;
    }

    static List<(PolicyChangeKind, string, PolicyChangeEffect)> Summary(IEnumerable<PolicyChange> changes) =>
        changes.Select(c => (c.Kind, c.Subject, c.Effect)).ToList();

    [Fact]
    public void A_policy_compared_with_itself_has_no_changes()
    {
        Assert.Empty(PolicyDiff.Compare(Shipped(), Shipped()));
        Assert.Empty(PolicyDiff.Compare(Example("finance.yaml"), Example("finance.yaml")));
    }

    [Fact]
    public void An_edited_copy_of_the_shipped_policy_shows_each_change_for_the_agents_it_reaches_with_its_direction()
    {
        var edited = Parse(Edit(ShippedText,
            ("  - id: intern-bot\n    team: support\n    owner: sam\n    status: active", "  - id: intern-bot\n    team: support\n    owner: sam\n    status: suspended"),
            ("members: [sam, tina]", "members: [sam]"),
            ("        max: 1000", "        max: 2000"),
            ("          above: 100", "          above: 50"),
            ("      approvers: 1", "      approvers: 2"),
            ("      escalate: { group: finance-leads, after: 30m }\n", ""),
            ("    # It answers questions about orders; it moves no money.\n    operations: [get_order]\n", ""),
            ("    constraints:\n      - id: internal-only\n        argument: /visibility\n        in: [internal]\n", ""),
            ("    callsPerMinute: 60", "    callsPerMinute: 120"),
            ("  tools:\n    payments:\n      callsPerMinute: 30\n", ""),
            ("      perDayUsd: 5.00", "      perDayUsd: 2.00")));

        var changes = PolicyDiff.Compare(Shipped(), edited);

        Assert.Equal(
        [
            (Changed, "agent intern-bot status", Narrows),
            (Changed, "team support members", Widens),
            (Changed, "grant desk-assistant-lookups operations", Widens),
            (Removed, "grant intern-bot-comments constraint internal-only", Widens),
            (Changed, "grant support-bot-refunds approval.approvers", Narrows),
            (Removed, "grant support-bot-refunds approval.escalate", Narrows),
            (Changed, "grant support-bot-refunds approval.when", Narrows),
            (Changed, "grant support-bot-refunds constraint refund-ceiling", Widens),
            // The default rate reaches the agents without their own (intern-bot has 10, undo-bot 120).
            (Changed, "limits.agents.desk-assistant.callsPerMinute", Widens),
            (Changed, "limits.agents.support-bot.callsPerMinute", Widens),
            (Removed, "limits.tools.payments.callsPerMinute", Widens),
            (Changed, "budgets.agents.support-bot.perDayUsd", Narrows),
        ], Summary(changes));

        var lookups = changes.Single(c => c.Subject == "grant desk-assistant-lookups operations");
        Assert.Equal("[payments.get_order]", lookups.Before);
        Assert.Equal("[payments.cancel_refund, payments.get_order, payments.refund]", lookups.After);
        Assert.Equal("widens: now covers [payments.cancel_refund, payments.refund]", lookups.Hint);

        var rate = changes.Single(c => c.Subject == "limits.agents.support-bot.callsPerMinute");
        Assert.Equal("60 (limits.default.callsPerMinute)", rate.Before);
        Assert.Equal("120 (limits.default.callsPerMinute)", rate.After);

        var condition = changes.Single(c => c.Subject == "grant support-bot-refunds approval.when");
        Assert.Equal(("/amountUsd > 100", "/amountUsd > 50"), (condition.Before, condition.After));
        Assert.Equal("narrows: approval needed in more cases", condition.Hint);

        Assert.Equal("widens: approval removed", PolicyDiff.Compare(Shipped(), Parse(Edit(ShippedText,
            ("    approval:\n      id: large-refund\n      when:\n        - argument: /amountUsd\n          above: 100\n      group: payments-approvers\n" +
             "      approvers: 1\n      expires: 1h\n      # Nobody from payments-approvers in 30 minutes: finance leads may approve too.\n" +
             "      escalate: { group: finance-leads, after: 30m }\n", "")))).Single().Hint);
    }

    [Fact]
    public void The_finance_and_platform_examples_differ_in_every_agent_grant_and_tool()
    {
        var changes = PolicyDiff.Compare(Example("finance.yaml"), Example("platform.yaml"));

        Assert.Equal(
        [
            (Added, "agent notify-bot", Unclear),
            (Removed, "agent old-payables-bot", Unclear),
            (Removed, "agent payables-bot", Unclear),
            (Added, "agent release-bot", Unclear),
            (Removed, "agent reporting-bot", Unclear),
            (Added, "grant notify-chat", Widens),
            (Removed, "grant payables-deletes", Narrows),
            (Removed, "grant payables-transfers", Narrows),
            (Added, "grant release-deploys", Widens),
            (Removed, "grant reporting-exports", Narrows),
            (Removed, "tool bank-transfer", Unclear),
            (Added, "tool chat", Unclear),
            (Added, "tool deploy", Unclear),
            (Removed, "tool ledger-delete", Unclear),
            (Removed, "tool ledger-export", Unclear),
        ], Summary(changes));

        Assert.Equal("release-bot -> tool deploy, approval: 1 of sre-oncall within 30m when /environment in [production], " +
                     "limits: 20 calls/min; 10 calls/run; 2 retries; runs of 2h; $5.00/day; $1.00/run",
            changes.Single(c => c.Subject == "grant release-deploys").After);
        Assert.Equal("widens: release-bot may use tool deploy", changes.Single(c => c.Subject == "grant release-deploys").Hint);
    }

    [Fact]
    public void Generic_tools_compare_destinations_as_allow_lists_and_limits_as_each_agent_receives_them()
    {
        var finance = File.ReadAllText(Path.Combine(PoliciesFolder, "examples", "finance.yaml"));
        var edited = PolicyDiff.Compare(Example("finance.yaml"), PolicyLoader.Parse(Edit(finance,
            ("urlPrefixes: [https://warehouse.internal.example/finance/]", "urlPrefixes: [https://warehouse.internal.example/finance/, https://backup.example/]"),
            ("  tools:\n    bank-transfer: { callsPerMinute: 5 }",
             "  agents:\n    payables-bot: { callsPerMinute: 10 }\n  tools:\n    bank-transfer: { callsPerMinute: 5 }\n    ledger-export: { callsPerMinute: 2 }"),
            ("      - { id: known-payees, argument: /payeeIban, in: [DE89370400440532013000, GB29NWBK60161331926819] }",
             "      - { id: known-payees, argument: /payeeIban, in: [DE89370400440532013000] }"),
            ("      approvers: 2\n      expires: 4h", "      approvers: 2\n      expires: 8h")), "finance.yaml").Policy!);

        Assert.Equal(
        [
            (Changed, "grant payables-transfers approval.expires", Unclear),
            (Changed, "grant payables-transfers constraint known-payees", Narrows),
            (Changed, "limits.agents.payables-bot.callsPerMinute", Narrows),
            (Added, "limits.tools.ledger-export.callsPerMinute", Narrows),
            (Changed, "tool ledger-export destinations", Widens),
        ], Summary(edited));
        Assert.Equal("10 (limits.agents.payables-bot.callsPerMinute)", edited.Single(c => c.Subject == "limits.agents.payables-bot.callsPerMinute").After);
        Assert.Equal("unlimited", edited.Single(c => c.Subject == "limits.tools.ledger-export.callsPerMinute").Before);
    }

    [Fact]
    public void A_constraint_changed_in_opposite_directions_or_rewritten_is_not_labelled()
    {
        var finance = File.ReadAllText(Path.Combine(PoliciesFolder, "examples", "finance.yaml"));
        var before = PolicyLoader.Parse(Edit(finance, ("{ id: ceiling, argument: /amount, max: 50000 }", "{ id: ceiling, argument: /amount, min: 1, max: 50000 }")), "f.yaml").Policy!;
        var after = PolicyLoader.Parse(Edit(finance, ("{ id: ceiling, argument: /amount, max: 50000 }", "{ id: ceiling, argument: /amount, min: 10, max: 90000 }")), "f.yaml").Policy!;
        var pattern = PolicyLoader.Parse(Edit(finance, ("{ id: ceiling, argument: /amount, max: 50000 }", "{ id: ceiling, argument: /reference, pattern: \"^INV-\" }")), "f.yaml").Policy!;

        Assert.Equal(Unclear, PolicyDiff.Compare(before, after).Single().Effect);
        Assert.Equal(Unclear, PolicyDiff.Compare(Example("finance.yaml"), pattern).Single().Effect);
        Assert.Equal(Widens, PolicyDiff.Compare(before, Example("finance.yaml")).Single().Effect);
    }

    [Fact]
    public void Team_members_excluded_from_approving_narrow_only_for_a_team_some_agent_belongs_to()
    {
        var finance = File.ReadAllText(Path.Combine(PoliciesFolder, "examples", "finance.yaml"));
        var teams = PolicyLoader.Parse(finance + "\nteams:\n  - {id: finance, members: [fiona]}\n  - {id: marketing, members: [mark]}\n", "f.yaml").Policy!;

        Assert.Equal(
        [
            (Added, "team finance members", Narrows),
            (Added, "team marketing members", Unclear),
        ], Summary(PolicyDiff.Compare(Example("finance.yaml"), teams)));
    }

    /// <summary>A temporary folder with a copy of the shipped catalog and a one-agent policy naming it.</summary>
    static (string Folder, string Catalog, string Policy) ShippedCatalogBeside(string grants)
    {
        var folder = Directory.CreateTempSubdirectory("agentbus-policy-diff-").FullName;
        var catalog = Path.Combine(folder, "catalog");
        Directory.CreateDirectory(catalog);
        foreach (var file in Directory.GetFiles(Path.Combine(RepoRoot.Path, "ops", "catalog"), "*.yaml"))
            File.Copy(file, Path.Combine(catalog, Path.GetFileName(file)));
        var policy = Path.Combine(folder, "policy.yaml");
        File.WriteAllText(policy, $"agents: [{{id: a, team: t}}]\ncatalog: catalog\n{grants}\n");
        return (folder, catalog, policy);
    }

    [Fact]
    public void A_new_catalog_operation_shows_under_operations_and_under_every_grant_that_covers_all_of_its_tool()
    {
        var (folder, catalog, policy) = ShippedCatalogBeside("grants: [{id: g, agent: a, tool: payments}]");
        try
        {
            var before = PolicyLoader.LoadFile(policy).Policy!;

            var payments = Path.Combine(catalog, "payments.yaml");
            var text = File.ReadAllText(payments);
            var getOrder = text[text.IndexOf("  - name: get_order", StringComparison.Ordinal)..text.IndexOf("  - name: refund", StringComparison.Ordinal)];
            File.WriteAllText(payments, text.Replace("  - name: refund", getOrder.Replace("name: get_order", "name: get_order_v2") + "  - name: refund"));
            var after = PolicyLoader.LoadFile(policy);
            Assert.True(after.Succeeded, string.Join("\n", after.Errors));

            Assert.Equal(
            [
                (Changed, "grant g operations", Widens),
                (Added, "operation payments.get_order_v2", Unclear),
            ], Summary(PolicyDiff.Compare(before, after.Policy!)));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_grant_that_narrows_what_an_operation_accepts_narrows_and_undoing_it_widens()
    {
        const string grant = "    operations: [create_ticket, get_ticket, comment]\n";
        var lower = Parse(Edit(ShippedText, (grant, grant + "    max: { pii.email: 1 }\n")));
        var none = Parse(Edit(ShippedText, (grant, grant + "    accepts: []\n")));

        var narrowed = Assert.Single(PolicyDiff.Compare(Shipped(), lower));
        Assert.Equal((Changed, "grant support-bot-tickets ticketing.create_ticket accepts", Narrows), (narrowed.Kind, narrowed.Subject, narrowed.Effect));
        Assert.Equal(("pii.email (at most 2)", "pii.email (at most 1)"), (narrowed.Before, narrowed.After));
        Assert.Equal("narrows: pii.email at most 1 instead of 2", narrowed.Hint);

        var widened = Assert.Single(PolicyDiff.Compare(lower, Shipped()));
        Assert.Equal((Widens, "widens: pii.email at most 2 instead of 1"), (widened.Effect, widened.Hint));

        var closed = Assert.Single(PolicyDiff.Compare(Shipped(), none));
        Assert.Equal((Narrows, "nothing", "narrows: no longer accepts pii.email"), (closed.Effect, closed.After, closed.Hint));
        Assert.Equal("widens: now accepts pii.email", Assert.Single(PolicyDiff.Compare(none, Shipped())).Hint);
    }

    [Fact]
    public void An_agent_receiving_another_class_unmasked_widens_and_one_receiving_less_narrows()
    {
        var more = Parse(Edit(ShippedText, ("    receives: [pii.email]", "    receives: [pii.email, pii.phone]")));
        var less = Parse(Edit(ShippedText, ("    receives: [pii.email]\n", "")));

        var widened = Assert.Single(PolicyDiff.Compare(Shipped(), more));
        Assert.Equal((Changed, "agent support-bot receives", Widens), (widened.Kind, widened.Subject, widened.Effect));
        Assert.Equal(("[pii.email]", "[pii.email, pii.phone]", "widens: now receives pii.phone unmasked"), (widened.Before, widened.After, widened.Hint));

        var narrowed = Assert.Single(PolicyDiff.Compare(Shipped(), less));
        Assert.Equal((Narrows, "nothing", "narrows: pii.email now masked in its results"), (narrowed.Effect, narrowed.After, narrowed.Hint));
    }

    const string Mailing = """
        agents: [{ id: mailer, team: t }]
        tools:
          - name: mail
            accepts: [pii.email]
            max: { pii.email: 2 }
        grants: [{ id: mailer-mail, agent: mailer, tool: mail }]
        """;

    [Fact]
    public void A_generic_tool_accepting_more_widens_every_grant_it_reaches_and_a_swap_of_classes_is_not_labelled()
    {
        var wider = Parse(Edit(Mailing, ("    accepts: [pii.email]\n    max: { pii.email: 2 }", "    accepts: [pii.email, pii.phone]")));
        var other = Parse(Edit(Mailing, ("    accepts: [pii.email]\n    max: { pii.email: 2 }", "    accepts: [pii.phone]")));

        var changes = PolicyDiff.Compare(Parse(Mailing), wider);
        Assert.Equal(
        [
            (Changed, "grant mailer-mail accepts", Widens),
            // The tool alone is sent nothing: what reaches an agent shows under its grant.
            (Changed, "tool mail accepts", Unclear),
        ], Summary(changes));
        Assert.Equal("widens: now accepts pii.phone; pii.email no longer limited (was at most 2)", changes[0].Hint);
        Assert.Equal(("pii.email (at most 2)", "pii.email, pii.phone"), (changes[0].Before, changes[0].After));
        Assert.Equal(PolicyChangeEffect.Narrows, PolicyDiff.Compare(wider, Parse(Mailing))[0].Effect);

        var swapped = PolicyDiff.Compare(Parse(Mailing), other)[0];
        Assert.Equal((Unclear, "now accepts pii.phone; no longer accepts pii.email"), (swapped.Effect, swapped.Hint));
    }

    [Fact]
    public void An_added_grant_names_what_its_operations_accept_when_any_accepts_something()
    {
        var grant = "  - id: support-bot-tickets\n    agent: support-bot\n    tool: ticketing\n    operations: [create_ticket, get_ticket, comment]\n\n";
        var added = Assert.Single(PolicyDiff.Compare(Parse(Edit(ShippedText, (grant, ""))), Shipped()), c => c.Subject == "grant support-bot-tickets");
        Assert.Contains(", accepts: ticketing.create_ticket pii.email (at most 2)", added.After);

        var mail = Assert.Single(PolicyDiff.Compare(Parse(Edit(Mailing, ("grants: [{ id: mailer-mail, agent: mailer, tool: mail }]", "grants: []"))), Parse(Mailing)));
        Assert.StartsWith("mailer -> tool mail, accepts: pii.email (at most 2), approval: none", mail.After);
        var closed = Edit(Mailing, ("    accepts: [pii.email]\n    max: { pii.email: 2 }\n", ""));
        var plain = Assert.Single(PolicyDiff.Compare(Parse(Edit(closed, ("grants: [{ id: mailer-mail, agent: mailer, tool: mail }]", "grants: []"))), Parse(closed)));
        Assert.DoesNotContain("accepts", plain.After);
    }

    [Fact]
    public void A_limit_raised_in_the_catalog_widens_the_grants_of_its_operation()
    {
        var (folder, catalog, policy) = ShippedCatalogBeside("grants: [{id: g, agent: a, tool: ticketing, operations: [create_ticket, comment]}]");
        try
        {
            var before = PolicyLoader.LoadFile(policy).Policy!;

            var ticketing = Path.Combine(catalog, "ticketing.yaml");
            File.WriteAllText(ticketing, Edit(File.ReadAllText(ticketing), ("max: { pii.email: 2 }", "max: { pii.email: 5 }")));
            var after = PolicyLoader.LoadFile(policy);
            Assert.True(after.Succeeded, string.Join("\n", after.Errors));

            var changes = PolicyDiff.Compare(before, after.Policy!);
            Assert.Equal(
            [
                (Changed, "grant g ticketing.create_ticket accepts", Widens),
                (Changed, "operation ticketing.create_ticket accepts", Unclear),
            ], Summary(changes));
            Assert.Equal("widens: pii.email at most 5 instead of 2", changes[0].Hint);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
