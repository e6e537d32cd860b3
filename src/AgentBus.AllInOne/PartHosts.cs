using AgentBus.Approvals;
using AgentBus.Executor;
using AgentBus.Policy;
using AgentBus.Projections;
using AgentBus.ServiceDefaults;

namespace AgentBus.AllInOne;

/// <summary>
/// Builds the policy service, the projections, the approvals service and one executor per tool as separate hosts.
/// Settings come from the usual places (environment, appsettings.json, command line); each part's
/// broker password is read from &lt;secrets&gt;/rabbitmq/&lt;its user&gt;, as `agentbus broker apply` writes it.
/// </summary>
public static class PartHosts
{
    public static IReadOnlyList<WebApplication> Build(string[] args)
    {
        var settings = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var secrets = settings["secrets-dir"] ?? Environment.GetEnvironmentVariable("AGENTBUS_SECRETS_DIR") ?? "/var/lib/agentbus/secrets";
        var tools = (settings["tools"] ?? "ticketing,payments").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var basePort = int.TryParse(settings["base-port"], out var port) ? port : 5101;

        var parts = new List<WebApplication>
        {
            Part(args, "agentbus-policy", secrets, basePort, b => b.AddServiceDefaults("agentbus-policy", basePort).AddPolicy()),
            Part(args, "agentbus-projections", secrets, basePort + 2, b => b.AddServiceDefaults("agentbus-projections", basePort + 2).AddProjections()),
            Part(args, "agentbus-approvals", secrets, basePort + 3, b => b.AddServiceDefaults("agentbus-approvals", basePort + 3).AddApprovals(),
                app => app.MapApprovals()),
        };
        for (var i = 0; i < tools.Length; i++)
        {
            var tool = tools[i];
            var toolArgs = args.Concat(["--tool", tool, "--secrets-directory", Path.Combine(secrets, "tools")]).ToArray();
            parts.Add(Part(toolArgs, $"agentbus-executor-{tool}", secrets, basePort + 10 + i, b =>
            {
                b.AddExecutorConfiguration(toolArgs);
                b.AddServiceDefaults($"agentbus-executor-{tool}", basePort + 10 + i).AddExecutor();
            }));
        }
        return parts;
    }

    static WebApplication Part(string[] args, string brokerUser, string secrets, int port, Action<WebApplicationBuilder> add,
        Action<WebApplication>? map = null)
    {
        var builder = ServiceHost.CreateBuilder(args);
        // OpenTelemetry listens process-wide: the policy part collects traces and metrics for every
        // part, the others would only export each span and measurement again.
        var collectsTelemetry = brokerUser == "agentbus-policy";
        builder.AddDefaultSettings(
        [
            new("RabbitMq:PasswordFile", Path.Combine(secrets, "rabbitmq", brokerUser)),
            // As ops/run.sh and `agentbus keys generate --out <secrets>/signing` lay them out.
            new("Policy:Signing:PrivateKeyFile", Path.Combine(secrets, "signing", "policy-signing.key.pem")),
            new("Executor:PolicyKeys", Path.Combine(secrets, "signing", "policy-signing.pub.pem")),
            new("Urls", $"http://127.0.0.1:{port}"),
            new("Telemetry:Enabled", collectsTelemetry ? "true" : "false"),
            new("Telemetry:ServiceName", "agentbus-all-in-one"),
        ]);
        builder.Configuration["RabbitMq:Username"] = brokerUser;
        builder.Configuration["Urls"] = $"http://127.0.0.1:{port}";
        add(builder);
        var app = builder.Build();
        app.MapServiceDefaults();
        map?.Invoke(app);
        return app;
    }

    /// <summary>Starts every part; when one stops (Ctrl-C stops them all), stops the rest.</summary>
    public static async Task RunAsync(IReadOnlyList<WebApplication> parts)
    {
        foreach (var part in parts)
            await part.StartAsync();
        await Task.WhenAny(parts.Select(p => p.WaitForShutdownAsync()));
        foreach (var part in parts.Reverse())
            await part.StopAsync();
    }
}
