using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.DemoAgent;
using Spectre.Console;

string Setting(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;

var secrets = Setting("AGENTBUS_SECRETS_DIR", "/var/lib/agentbus/secrets");
var approvals = Setting("AGENTBUS_APPROVALS_URL", "http://127.0.0.1:5104").TrimEnd('/');
// ops/run.sh names the run, so that it can roll the run back afterwards.
var runId = Setting("AGENTBUS_DEMO_RUN_ID", $"demo-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}");
var steps = DemoScenario.Steps();

if (Console.IsOutputRedirected || Console.WindowWidth < 120)
    AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns >= 120 ? columns : 160;

var clients = new Dictionary<string, AgentClient>();
try
{
    foreach (var agent in steps.Select(s => s.Agent).Distinct())
    {
        var passwordFile = Path.Combine(secrets, "rabbitmq", agent);
        if (!File.Exists(passwordFile))
        {
            AnsiConsole.MarkupLine($"[red]error:[/] no broker password for agent {agent} at {passwordFile}; run 'agentbus broker apply' first.");
            return 2;
        }
        var options = new AgentClientOptions
        {
            Host = Setting("AGENTBUS_RABBITMQ_HOST", "127.0.0.1"),
            Port = int.Parse(Setting("AGENTBUS_RABBITMQ_PORT", "5672")),
            Endpoints = Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_ENDPOINTS"),
            VirtualHost = Setting("AGENTBUS_RABBITMQ_VHOST", WireNames.DefaultVirtualHost),
            AgentId = agent,
            Password = File.ReadAllText(passwordFile).Trim(),
        };
        try
        {
            clients[agent] = await AgentClient.ConnectAsync(options);
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException or RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            AnsiConsole.MarkupLine($"[red]error:[/] agent {agent} cannot connect to RabbitMQ at {options.Host}:{options.Port} (vhost {options.VirtualHost}): {Markup.Escape(ex.GetBaseException().Message)}");
            return 2;
        }
    }

    var table = new Table().Title($"AgentBus demo, run [bold]{runId}[/]")
        .AddColumns("#", "agent", "operation", "what", "decision", "reason", "outcome", "reference / error", "ms");
    var failures = 0;
    var waiting = new List<string>();
    for (var i = 0; i < steps.Count; i++)
    {
        var step = steps[i];
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        ActionResult result;
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var client = clients[step.Agent];
            var actionId = await client.ProposeAsync(step.Operation, step.Arguments, runId, intent: step.Description, cancellationToken: deadline.Token);
            // A person decides later: the demo shows where, and goes on (the action runs once approved).
            if (await client.DecisionAsync(actionId, deadline.Token) is { Decision: Decision.ApprovalRequired } pending)
            {
                var inbox = $"{approvals}/inbox/{pending.ApprovalId}";
                waiting.Add(inbox);
                table.AddRow($"{i + 1}", step.Agent, step.Operation, Markup.Escape(step.Description), "[yellow]approval required[/]",
                    Markup.Escape(pending.ReasonCode), "[yellow]waiting for approval[/]", Markup.Escape(inbox),
                    $"{System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds:0}");
                continue;
            }
            result = await client.WaitAsync(actionId, deadline.Token);
        }
        catch (OperationCanceledException)
        {
            failures++;
            table.AddRow($"{i + 1}", step.Agent, step.Operation, step.Description, "[red]no answer[/]", "", "", "timed out after 30 s", "");
            continue;
        }

        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var decision = result.Decision.Decision switch
        {
            Decision.Allowed => "[green]allowed[/]",
            Decision.Denied => "[red]denied[/]",
            _ => "[yellow]approval required[/]",
        };
        var (outcome, detail) = result switch
        {
            { Succeeded: { } ok } => ("[green]succeeded[/]", ok.ExternalReference ?? ""),
            { Failed: { OutcomeUnknown: true } unknown } => ("[yellow]outcome unknown[/]", $"{unknown.ErrorCode}: {unknown.Error}"),
            { Failed: { } failed } => ("[red]failed[/]", $"{failed.ErrorCode}: {failed.Error}"),
            _ => ("-", result.Decision.Reason),
        };
        table.AddRow($"{i + 1}", step.Agent, step.Operation, Markup.Escape(step.Description), decision,
            Markup.Escape(result.Decision.ReasonCode), outcome, Markup.Escape(detail), $"{elapsed:0}");
    }

    AnsiConsole.Write(table);
    foreach (var inbox in waiting)
        AnsiConsole.MarkupLine($"[yellow]Waiting for a person:[/] approve or deny at [bold]{Markup.Escape(inbox)}[/] (sign in with an approver token); " +
                               "once approved, policy re-checks it and the action runs, once.");

    // The same agent through the front doors other frameworks use: an MCP client, and a model's function
    // calls. Both go through the gateway that ops/run.sh starts; one that cannot be used fails the demo.
    var gatewayUrl = Setting("AGENTBUS_GATEWAY_URL", OperationsGateway.DefaultAddress.ToString());
    if (!await McpDemo.RunAsync(gatewayUrl, File.ReadAllText(Path.Combine(secrets, "rabbitmq", McpDemo.Agent)).Trim(), $"{runId}-mcp"))
        failures++;
    if (!await ChatDemo.RunAsync(clients[ChatDemo.Agent], gatewayUrl, $"{runId}-chat"))
        failures++;

    // Each agent says the run is over; the audit marks the run, the gates count it.
    foreach (var client in clients.Values)
        await client.CompleteRunAsync(runId, succeeded: failures == 0,
            summary: $"Demo script: {steps.Count} steps, {failures} without an answer, {waiting.Count} left waiting for approval.");

    AnsiConsole.MarkupLine($"This run as the audit tells it: [bold]agentbus runs show {runId}[/]");
    return failures == 0 ? 0 : 1;
}
finally
{
    foreach (var client in clients.Values)
        await client.DisposeAsync();
}
