using System.Text.Json;
using AgentBus.Cli.Commands;
using Spectre.Console;

namespace AgentBus.UnitTests.Cli;

/// <summary>`agentbus policy diff A B`: grouped text, --json, and --fail-on widen for CI.</summary>
public sealed class PolicyDiffCliTests : IDisposable
{
    static readonly string Policies = Path.Combine(RepoRoot.Path, "ops", "policies");
    static readonly string Shipped = Path.Combine(Policies, "policy.yaml");
    readonly string _folder = Directory.CreateTempSubdirectory("agentbus-policy-diff-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static async Task<(int Code, string Output)> Run(params string[] args)
    {
        var output = new StringWriter();
        var settings = new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
        };
        var root = new System.CommandLine.RootCommand { PolicyCommands.Create() };
        var console = AnsiConsole.Create(settings);
        console.Profile.Width = 1000;
        using (AgentBus.Cli.Commands.Cli.CaptureOutput(console))
        {
            var code = await root.Parse(args).InvokeAsync();
            return (code, output.ToString());
        }
    }

    /// <summary>The shipped policy with one edit, written where its catalog is found by absolute path.</summary>
    string Edited(string from, string to)
    {
        var text = File.ReadAllText(Shipped).Replace("catalog: ../catalog", $"catalog: {Path.Combine(RepoRoot.Path, "ops", "catalog")}");
        Assert.Contains(from, text);
        var path = Path.Combine(_folder, "edited.yaml");
        File.WriteAllText(path, text.Replace(from, to));
        return path;
    }

    [Fact]
    public async Task Identical_policies_say_so_and_exit_0_even_when_failing_on_widen()
    {
        var (code, output) = await Run("policy", "diff", Shipped, Edited("Everything not granted", "All that is not granted"), "--fail-on", "widen");

        Assert.Equal(0, code);
        Assert.Contains("No change in what agents may do.", output);
    }

    [Fact]
    public async Task A_widening_change_is_listed_under_its_section_and_fails_the_gate_with_3()
    {
        var edited = Edited("        max: 1000", "        max: 5000");

        var (plain, text) = await Run("policy", "diff", Shipped, edited);
        var (gated, _) = await Run("policy", "diff", Shipped, edited, "--fail-on", "widen");
        var (narrowing, _) = await Run("policy", "diff", Shipped, Edited("        max: 1000", "        max: 500"), "--fail-on", "widen");

        Assert.Equal((0, 3, 0), (plain, gated, narrowing));
        Assert.Contains("grants\n  ~ grant support-bot-refunds constraint refund-ceiling: /amountUsd <= 1000 -> /amountUsd <= 5000  widens: constraint accepts more", text);
        Assert.Contains("1 change(s): 1 widen, 0 narrow, 0 unlabelled.", text);
    }

    [Fact]
    public async Task An_agent_receiving_more_or_an_operation_accepting_more_fails_the_widening_gate()
    {
        var (widening, text) = await Run("policy", "diff", Shipped, Edited("    receives: [pii.email]", "    receives: [pii.email, pii.card]"), "--fail-on", "widen");
        var accepts = Edited("    operations: [create_ticket, get_ticket, comment]\n", "    operations: [create_ticket, get_ticket, comment]\n    max: { pii.email: 1 }\n");
        var (narrowing, narrowed) = await Run("policy", "diff", Shipped, accepts, "--fail-on", "widen");
        var (reverse, _) = await Run("policy", "diff", accepts, Shipped, "--fail-on", "widen");

        Assert.Equal((3, 0, 3), (widening, narrowing, reverse));
        Assert.Contains("agents\n  ~ agent support-bot receives: [pii.email] -> [pii.card, pii.email]  widens: now receives pii.card unmasked", text);
        Assert.Contains("  ~ grant support-bot-tickets ticketing.create_ticket accepts: pii.email (at most 2) -> pii.email (at most 1)  " +
                        "narrows: pii.email at most 1 instead of 2", narrowed);
    }

    [Fact]
    public async Task Json_lists_the_changes_with_kind_effect_and_values()
    {
        var (code, output) = await Run("policy", "diff", Shipped, Edited("      perRunUsd: 1.00", "      perRunUsd: 2.00"), "--json");

        Assert.Equal(0, code);
        var change = JsonSerializer.Deserialize<JsonElement>(output).GetProperty("changes").EnumerateArray().Single();
        Assert.Equal("budgets", change.GetProperty("section").GetString());
        Assert.Equal("changed", change.GetProperty("kind").GetString());
        Assert.Equal("budgets.agents.support-bot.perRunUsd", change.GetProperty("subject").GetString());
        Assert.Equal("$1.00 (budgets.agents.support-bot.perRunUsd)", change.GetProperty("before").GetString());
        Assert.Equal("$2.00 (budgets.agents.support-bot.perRunUsd)", change.GetProperty("after").GetString());
        Assert.Equal("widens", change.GetProperty("effect").GetString());
    }

    [Fact]
    public async Task Names_and_patterns_from_the_files_are_printed_as_text_not_as_markup()
    {
        var (code, output) = await Run("policy", "diff", Shipped, Edited("  - id: intern-bot-comments", "  - id: \"[red]intern-bot-comments[/]\""));

        Assert.Equal(0, code);
        Assert.Contains("+ grant [red]intern-bot-comments[/]:", output);
        Assert.Contains("- grant intern-bot-comments:", output);
    }

    [Fact]
    public async Task A_policy_that_does_not_load_is_an_error_with_exit_1()
    {
        var (code, output) = await Run("policy", "diff", Shipped, Path.Combine(_folder, "missing.yaml"));

        Assert.Equal(1, code);
        Assert.Contains("cannot read the policy file", output);
    }
}
