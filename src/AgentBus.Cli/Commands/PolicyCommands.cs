using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentBus.Catalog;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// `agentbus policy validate|test|explain|who-can|diff`: everything an operator or a CI job needs to
/// review a policy change before it is deployed. All of it runs the same pure evaluator as the
/// policy service, offline.
/// </summary>
static class PolicyCommands
{
    public static Command Create() => new("policy", "Check, test and explain policy files.")
    {
        Validate(), Test(), Explain(), WhoCanCommand(), Diff(),
        PolicyHistoryCommands.History(), PolicyHistoryCommands.Show(), PolicyHistoryCommands.Shadow(), PolicyReplayCommand.Create(),
    };

    static Argument<string> FileArgument() => new("FILE") { Description = "The policy file (YAML)" };

    internal static PolicySnapshot Load(string path)
    {
        var loaded = PolicyLoader.LoadFile(path);
        if (loaded.Policy is { } policy)
            return policy;
        foreach (var error in loaded.Errors)
            Cli.Error(error);
        throw new PolicyRefusedException(loaded.Errors.Count);
    }

    static Command Validate()
    {
        var file = FileArgument();
        var command = new Command("validate", "Check a policy file; every problem is reported as file:line: what is wrong.") { file };
        command.SetAction((result, _) => Cli.Run(() =>
        {
            var policy = Load(result.GetValue(file)!);
            AnsiConsole.MarkupLine($"[green]valid[/] {Markup.Escape(policy.Source)}: version {policy.Version}, " +
                                   $"{policy.Agents.Count} agents, {policy.Tools.Count} tools, {policy.Grants.Count} grants.");
            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    static Command Test()
    {
        var file = FileArgument();
        var cases = new Argument<string>("CASES") { Description = "Expectations (YAML): proposal → expected decision, rule, reason code" };
        var command = new Command("test", "Run table-driven expectations against a policy; exits non-zero on any mismatch (for CI).") { file, cases };
        command.SetAction((result, _) => Cli.Run(async () =>
        {
            var policy = Load(result.GetValue(file)!);
            var casesPath = result.GetValue(cases)!;
            var (loaded, errors) = PolicyCases.Load(await File.ReadAllTextAsync(casesPath), casesPath);
            if (loaded is null)
            {
                foreach (var error in errors)
                    Cli.Error(error);
                return Cli.BadInput;
            }

            var results = loaded.Run(policy, DateTimeOffset.UtcNow);
            var table = new Table().AddColumns("", "case", "expected", "actual", "rule", "reason code");
            foreach (var r in results)
            {
                var expected = r.Expected.Decision + (r.Expected.Rule is { } rule ? $" ({rule})" : "") +
                               (r.Expected.ReasonCode is { } code ? $" [{code}]" : "");
                var name = r.Step is null ? r.Case.Name : $"{r.Case.Name}: {r.Step}";
                table.AddRow(r.Passed ? "[green]pass[/]" : "[red]FAIL[/]", Markup.Escape(name), Markup.Escape(expected),
                    Markup.Escape(r.Actual), Markup.Escape(r.ActualRule ?? ""), Markup.Escape(r.ActualReasonCode));
            }
            AnsiConsole.Write(table);

            var failed = results.Where(r => !r.Passed).ToList();
            foreach (var r in failed)
                Cli.Error($"{casesPath}:{r.Line}: '{r.Case.Name}'{(r.Step is null ? "" : $" {r.Step}")} expected {r.Expected.Decision}" +
                          $"{(r.Expected.Rule is { } rule ? $" by rule {rule}" : "")}, got {r.Actual} by rule {r.ActualRule ?? "(none)"}: {r.Reason}");
            AnsiConsole.MarkupLine($"{results.Count - failed.Count} passed, {failed.Count} failed");
            return failed.Count == 0 ? Cli.Ok : Cli.Failed;
        }));
        return command;
    }

    static Command Explain()
    {
        var file = FileArgument();
        var proposalFile = new Argument<string>("PROPOSAL") { Description = "An ActionProposed as JSON (actionId and runId may be left out)" };
        var brokerUser = new Option<string?>("--broker-user") { Description = "The AMQP user_id it arrives with (default: its agentId)" };
        var anonymous = new Option<bool>("--anonymous") { Description = "It arrives without a user_id" };
        var suspendedAgents = new Option<string[]>("--suspended-agent") { Description = "Treat this agent as suspended (repeatable)", AllowMultipleArgumentsPerToken = true };
        var suspendedTools = new Option<string[]>("--suspended-tool") { Description = "Treat this tool as suspended (repeatable)", AllowMultipleArgumentsPerToken = true };
        var command = new Command("explain", "Show the decision a policy gives one proposal, and every step that led to it.")
        {
            file, proposalFile, brokerUser, anonymous, suspendedAgents, suspendedTools,
        };
        command.SetAction((result, _) => Cli.Run(async () =>
        {
            var policy = Load(result.GetValue(file)!);
            var proposal = await ReadProposal(result.GetValue(proposalFile)!);
            var user = result.GetValue(anonymous) ? null : result.GetValue(brokerUser) ?? proposal.AgentId;
            var state = new EvaluationState(DateTimeOffset.UtcNow,
                new SuspensionSet(result.GetValue(suspendedAgents) ?? [], result.GetValue(suspendedTools) ?? []));

            var steps = new List<EvaluationStep>();
            var decision = PolicyEvaluator.Evaluate(proposal, user, policy, state, steps);

            var table = new Table().AddColumns("step", "outcome", "rule", "detail");
            foreach (var step in steps.Where(s => s.Step != "decision"))
            {
                var outcome = step.Outcome switch
                {
                    "pass" => "[green]pass[/]",
                    "deny" => "[red]deny[/]",
                    var other => Markup.Escape(other),
                };
                table.AddRow(Markup.Escape(step.Step), outcome, Markup.Escape(step.RuleId ?? ""), Markup.Escape(step.Detail));
            }
            AnsiConsole.MarkupLine($"Policy {policy.Version} ({Markup.Escape(policy.Source)}), agent [bold]{Markup.Escape(proposal.AgentId)}[/], tool [bold]{Markup.Escape(proposal.Tool)}[/]");
            AnsiConsole.Write(table);

            var colour = decision.Decision switch
            {
                Decision.Allowed => "green",
                Decision.ApprovalRequired => "yellow",
                _ => "red",
            };
            AnsiConsole.MarkupLine($"Decision: [{colour}]{decision.Decision.WireName()}[/] ({Markup.Escape(decision.ReasonCode)}, rule {Markup.Escape(decision.RuleId ?? "-")})");
            AnsiConsole.MarkupLine(Markup.Escape(decision.Reason));
            if (decision.Approval is { } approval)
            {
                AnsiConsole.MarkupLine($"Approval: {approval.Approvers} distinct approver(s) from [bold]{Markup.Escape(approval.Group)}[/] within {Durations.Format(approval.Expiry)} (rule {Markup.Escape(approval.RuleId)}).");
                if (approval.EscalationGroup is { } escalation)
                    AnsiConsole.MarkupLine($"Escalation: after {Durations.Format(approval.EscalationDelay!.Value)}, [bold]{Markup.Escape(escalation)}[/] may approve too.");
                AnsiConsole.MarkupLine($"May not approve: {Markup.Escape(string.Join(", ", new[] { approval.RequestedBy + " (requester)" }.Concat(approval.ExcludedApprovers.Select(m => $"{m} (team {approval.AgentTeam})"))))}.");
            }
            if (decision.Decision != Decision.Denied)
                AnsiConsole.MarkupLine("[grey]Rates, run caps and budget are enforced by the policy service against live state; the limits above are what it will apply.[/]");
            return Cli.Ok;
        }));
        return command;
    }


    static async Task<ActionProposed> ReadProposal(string path)
    {
        JsonElement json;
        try
        {
            json = JsonSerializer.Deserialize<JsonElement>(await File.ReadAllTextAsync(path));
        }
        catch (JsonException ex)
        {
            throw new UsageException($"{path}: not valid JSON ({ex.Message})");
        }
        if (json.ValueKind != JsonValueKind.Object)
            throw new UsageException($"{path}: the proposal must be a JSON object.");

        string? Text(string name) => json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return new ActionProposed(
            Text("actionId") ?? "00000000-0000-7000-8000-000000000000",
            Text("runId") ?? "explain",
            Text("agentId") ?? "",
            Text("tool") ?? "",
            json.TryGetProperty("arguments", out var arguments) ? arguments.Clone() : default,
            Text("idempotencyKey"),
            Text("intent"),
            Text("operation"));
    }

    static Command WhoCanCommand()
    {
        var subject = new Argument<string>("CAPABILITY|TOOL|OPERATION")
        {
            Description = $"A capability ({string.Join(", ", PolicyLoader.KnownCapabilities)}), a tool name, or an operation (payments.refund)",
        };
        var file = FileArgument();
        var command = new Command("who-can", "List the agents that can use a capability, tool or operation, under which constraints, with or without approval.") { subject, file };
        command.SetAction((result, _) => Cli.Run(() =>
        {
            var policy = Load(result.GetValue(file)!);
            var (rows, error, described) = WhoCan.Query(policy, result.GetValue(subject)!);
            if (error is not null)
                throw new UsageException(error);

            AnsiConsole.MarkupLine($"Who can use {Markup.Escape(described)} under policy {policy.Version}: " +
                                   (rows.Count == 0 ? "[grey]no agent.[/]" : $"{rows.Select(r => r.Agent).Distinct().Count()} agent(s)."));
            foreach (var row in rows)
            {
                var terms = row.Terms;
                var limits = string.Join("; ", new[]
                {
                    terms.AgentCallsPerMinute is { } a ? $"{a.Value} calls/min" : null,
                    terms.ToolCallsPerMinute is { } t ? $"tool {t.Value} calls/min" : null,
                    terms.OperationCallsPerMinute is { } o ? $"operation {o.Value} calls/min" : null,
                    terms.RunToolCalls is { } c ? $"{c.Value} calls/run" : null,
                    terms.PerDayUsd is { } d ? $"${d.Value.ToString(CultureInfo.InvariantCulture)}/day" : null,
                    terms.PerRunUsd is { } r ? $"${r.Value.ToString(CultureInfo.InvariantCulture)}/run" : null,
                }.Where(s => s is not null));
                AnsiConsole.WriteLine();
                AnsiConsole.MarkupLine($"[bold]{Markup.Escape(row.Agent)}[/] (team {Markup.Escape(row.Team)}){(row.AgentSuspended ? " [red]suspended[/]" : "")} " +
                                       $"-> {Markup.Escape(row.Operation is null ? row.Tool : $"{row.Tool}.{row.Operation}")} (risk {Markup.Escape(row.Risk)}), grant {Markup.Escape(row.Grant)}");
                AnsiConsole.MarkupLine($"  constraints:  {Markup.Escape(row.Constraints.Count == 0 ? "none" : string.Join("; ", row.Constraints))}");
                AnsiConsole.MarkupLine($"  destinations: {Markup.Escape(row.Destinations)}");
                AnsiConsole.MarkupLine($"  approval:     {Markup.Escape(row.Approval)}");
                AnsiConsole.MarkupLine($"  limits:       {Markup.Escape(limits.Length == 0 ? "unlimited" : limits)}");
                AnsiConsole.MarkupLine($"  accepts:      {Markup.Escape(row.Accepts)}");
                AnsiConsole.MarkupLine($"  receives:     {Markup.Escape(row.Receives.Count == 0 ? "nothing: every class found in a result is masked" : string.Join(", ", row.Receives) + " (other classes masked)")}");
            }
            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    static readonly JsonSerializerOptions DiffJson = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>`policy diff A B`: what changes for agents between two policies, grouped; --fail-on widen makes CI stop a widening change.</summary>
    static Command Diff()
    {
        var before = new Argument<string>("A") { Description = "The policy as it is: a file (YAML), or a recorded version (sha256:… or a prefix; agentbus policy history)" };
        var after = new Argument<string>("B") { Description = "The policy as proposed: a file or a recorded version" };
        var postgres = Cli.Postgres();
        var json = new Option<bool>("--json") { Description = "Print the changes as JSON" };
        var failOn = new Option<string?>("--fail-on") { Description = "widen: exit 3 when any change widens what an agent may do (for CI)" };
        failOn.AcceptOnlyFromAmong("widen");
        var command = new Command("diff", "The semantic difference between two policies: agents, grants, limits, budgets, tools and operations, " +
                                          "as the policy service applies them, each marked where it certainly widens or narrows what agents may do.")
        {
            before, after, json, failOn, postgres,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            // A file when one exists by that name; otherwise a version recorded by the policy service.
            async Task<PolicySnapshot> Resolve(string name)
            {
                if (File.Exists(name) || !PolicyHistoryCommands.LooksLikeVersion(name) || result.GetValue(postgres) is not { Length: > 0 })
                    return Load(name);
                await using var dataSource = AuditCli.DataSource(result, postgres);
                return await PolicyHistoryCommands.LoadVersionAsync(new AgentBus.Policy.Versions.PolicyVersionStore(dataSource), name, ct);
            }
            var a = await Resolve(result.GetValue(before)!);
            var b = await Resolve(result.GetValue(after)!);
            var changes = PolicyDiff.Compare(a, b);
            var output = Cli.Out;
            if (result.GetValue(json))
                output.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(new
                {
                    Before = new { a.Source, a.Version },
                    After = new { b.Source, b.Version },
                    Changes = changes,
                }, DiffJson));
            else
                PrintDiff(output, a, b, changes);
            return result.GetValue(failOn) == "widen" && changes.Any(c => c.Effect == PolicyChangeEffect.Widens)
                ? Cli.CheckFailed
                : Cli.Ok;
        }));
        return command;
    }

    static void PrintDiff(IAnsiConsole output, PolicySnapshot a, PolicySnapshot b, IReadOnlyList<PolicyChange> changes)
    {
        output.MarkupLine($"{Markup.Escape(a.Source)} ({a.Version}) -> {Markup.Escape(b.Source)} ({b.Version})");
        if (changes.Count == 0)
        {
            output.MarkupLine("No change in what agents may do.");
            return;
        }
        foreach (var section in changes.GroupBy(c => c.Section))
        {
            output.WriteLine();
            output.MarkupLine($"[bold]{Markup.Escape(section.Key)}[/]");
            foreach (var change in section)
            {
                var (sign, colour) = change.Kind switch
                {
                    PolicyChangeKind.Added => ("+", "green"),
                    PolicyChangeKind.Removed => ("-", "red"),
                    _ => ("~", "yellow"),
                };
                var values = change.Kind switch
                {
                    PolicyChangeKind.Added => Shorten(change.After),
                    PolicyChangeKind.Removed => Shorten(change.Before),
                    _ => $"{Shorten(change.Before)} -> {Shorten(change.After)}",
                };
                var hint = change.Effect switch
                {
                    PolicyChangeEffect.Widens => $"  [red]{Markup.Escape(change.Hint ?? "widens")}[/]",
                    PolicyChangeEffect.Narrows => $"  [green]{Markup.Escape(change.Hint ?? "narrows")}[/]",
                    _ => change.Hint is { } text ? $"  [grey]{Markup.Escape(text)}[/]" : "",
                };
                output.MarkupLine($"  [{colour}]{sign}[/] {Markup.Escape(change.Subject)}: {Markup.Escape(values)}{hint}");
            }
        }
        var widening = changes.Count(c => c.Effect == PolicyChangeEffect.Widens);
        var narrowing = changes.Count(c => c.Effect == PolicyChangeEffect.Narrows);
        output.WriteLine();
        output.MarkupLine($"{changes.Count} change(s): {widening} widen, {narrowing} narrow, {changes.Count - widening - narrowing} unlabelled.");
    }

    /// <summary>An argument schema can be long; --json has it whole.</summary>
    static string Shorten(string? text) => text is null ? "" : text.Length <= 400 ? text : text[..397] + "...";
}

/// <summary>The errors were printed already; the command exits with a failure.</summary>
sealed class PolicyRefusedException(int errors) : Exception($"The policy file has {errors} problem(s).");
