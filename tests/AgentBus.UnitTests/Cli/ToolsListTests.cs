using System.Text.Json;

namespace AgentBus.UnitTests.Cli;

/// <summary>`agentbus tools list|show --policy`: the catalog as a model acting as one agent is offered it.</summary>
public sealed class ToolsListTests
{
    static readonly string ShippedPolicy = Path.Combine(RepoRoot.Path, "ops", "policies", "policy.yaml");

    static async Task<JsonElement[]> ListJson(params string[] args)
    {
        var (code, output, error) = await ToolsCli.Run(["tools", "list", "--policy", ShippedPolicy, "--json", .. args]);
        Assert.True(code == 0, error + output);
        return JsonSerializer.Deserialize<JsonElement[]>(output)!;
    }

    [Fact]
    public async Task With_a_policy_each_operation_says_which_agents_may_call_it_and_on_what_terms()
    {
        var operations = (await ListJson()).ToDictionary(o => o.GetProperty("name").GetString()!, o => o.GetProperty("access").GetString());

        Assert.Equal("support-bot (approval when /amountUsd > 100)", operations["payments.refund"]);
        Assert.Equal("desk-assistant, support-bot", operations["payments.get_order"]);
        Assert.Equal("intern-bot, support-bot", operations["ticketing.comment"]);
        Assert.Equal("undo-bot", operations["payments.cancel_refund"]);
    }

    [Fact]
    public async Task For_one_agent_the_list_holds_exactly_the_operations_it_is_granted()
    {
        var names = (await ListJson("--agent", "intern-bot")).Select(o => o.GetProperty("name").GetString());

        Assert.Equal(["ticketing.comment"], names);
    }

    [Fact]
    public async Task An_agent_filter_without_a_policy_or_for_an_unknown_agent_is_a_usage_error()
    {
        var (withoutPolicy, _, _) = await ToolsCli.Run("tools", "list", "--agent", "intern-bot");
        var (unknown, output, error) = await ToolsCli.Run("tools", "list", "--policy", ShippedPolicy, "--agent", "nobody-bot");

        Assert.Equal(2, withoutPolicy);
        Assert.Equal(2, unknown);
        Assert.Contains("no agent 'nobody-bot'", error + output);
    }

    [Fact]
    public async Task Show_with_a_policy_names_who_may_call_the_operation()
    {
        var (code, output, error) = await ToolsCli.Run("tools", "show", "payments.refund", "--policy", ShippedPolicy);

        Assert.True(code == 0, error + output);
        Assert.Contains("who may call it", output);
        Assert.Contains("support-bot (approval when /amountUsd > 100)", output);
    }

    [Fact]
    public async Task List_and_show_say_what_undoes_an_operation_or_that_nothing_can()
    {
        var operations = (await ListJson()).ToDictionary(o => o.GetProperty("name").GetString()!);
        var refund = operations["payments.refund"].GetProperty("compensation");
        var ticket = operations["ticketing.create_ticket"].GetProperty("compensation");

        Assert.Equal("payments.cancel_refund", refund.GetProperty("operation").GetString());
        Assert.Equal("/result/body/refundId", refund.GetProperty("arguments").GetProperty("refundId").GetString());
        Assert.Equal("wont_fix", ticket.GetProperty("arguments").GetProperty("resolution").GetProperty("value").GetString());
        Assert.True(operations["ticketing.comment"].GetProperty("irreversible").GetBoolean());
        Assert.Equal(JsonValueKind.Null, operations["payments.get_order"].GetProperty("compensation").ValueKind);

        var (code, output, error) = await ToolsCli.Run("tools", "show", "ticketing.comment", "--policy", ShippedPolicy);
        Assert.True(code == 0, error + output);
        Assert.Contains("irreversible", output);
        Assert.Contains("cannot edit or delete a comment", output);
    }

    [Fact]
    public async Task List_and_show_say_what_sensitive_data_an_operation_accepts()
    {
        var operations = (await ListJson()).ToDictionary(o => o.GetProperty("name").GetString()!);
        var ticket = operations["ticketing.create_ticket"];

        Assert.Equal("pii.email (at most 2)", ticket.GetProperty("accepts").GetString());
        Assert.Equal(["pii.email"], ticket.GetProperty("acceptsClasses").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(2, ticket.GetProperty("acceptsMax").GetProperty("pii.email").GetInt32());
        Assert.Equal("nothing", operations["payments.refund"].GetProperty("accepts").GetString());
        Assert.Empty(operations["payments.refund"].GetProperty("acceptsMax").EnumerateObject());

        var (code, output, error) = await ToolsCli.Run("tools", "show", "ticketing.create_ticket", "--catalog", Path.Combine(RepoRoot.Path, "ops", "catalog"));
        Assert.True(code == 0, error + output);
        Assert.Contains("accepts pii.email (at most 2)", output);
    }

    [Fact]
    public async Task For_one_agent_the_list_shows_what_its_grant_lets_it_send()
    {
        var folder = Directory.CreateTempSubdirectory("agentbus-tools-list-").FullName;
        try
        {
            // The shipped policy with support-bot's ticket grant narrowed to one address.
            var text = File.ReadAllText(ShippedPolicy)
                .Replace("catalog: ../catalog", $"catalog: {Path.Combine(RepoRoot.Path, "ops", "catalog")}")
                .Replace("    operations: [create_ticket, get_ticket, comment]\n", "    operations: [create_ticket, get_ticket, comment]\n    max: { pii.email: 1 }\n");
            var policy = Path.Combine(folder, "policy.yaml");
            await File.WriteAllTextAsync(policy, text);

            var (code, output, error) = await ToolsCli.Run("tools", "list", "--policy", policy, "--agent", "support-bot", "--json");
            Assert.True(code == 0, error + output);
            var ticket = JsonSerializer.Deserialize<JsonElement[]>(output)!.Single(o => o.GetProperty("name").GetString() == "ticketing.create_ticket");
            Assert.Equal("pii.email (at most 1)", ticket.GetProperty("accepts").GetString());

            var (_, all, _) = await ToolsCli.Run("tools", "list", "--policy", policy, "--json");
            Assert.Equal("pii.email (at most 2)", JsonSerializer.Deserialize<JsonElement[]>(all)!
                .Single(o => o.GetProperty("name").GetString() == "ticketing.create_ticket").GetProperty("accepts").GetString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
