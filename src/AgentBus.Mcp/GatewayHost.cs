using System.Security.Claims;
using AgentBus.Client;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Authentication;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using OpenTelemetry.Trace;

namespace AgentBus.Mcp;

public static class GatewayHost
{
    public const string ServiceName = "agentbus-mcp";
    public const int DefaultPort = 5105;

    /// <summary>The MCP gateway over Streamable HTTP at /mcp, and GET /v1/operations for clients that are not MCP clients.</summary>
    public static WebApplicationBuilder AddMcpGateway(this WebApplicationBuilder builder)
    {
        builder.AddDefaultSettings(new Dictionary<string, string?>
        {
            ["Urls"] = $"http://127.0.0.1:{DefaultPort}",
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            ["Logging:LogLevel:ModelContextProtocol"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        });
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
            console.UseUtcTimestamp = true;
        });
        // An MCP request is a JSON-RPC message: a megabyte is far beyond any operation's arguments.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = 1024 * 1024);
        builder.AddAgentBusTelemetry(ServiceName);
        // The MCP request's trace continues into the proposal's: the client's propose span is a child of the request's.
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource(AgentClient.ActivitySourceName));

        builder.Services.AddGatewayCore();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<IAgentConnectionSource, HttpAgentConnectionSource>();
        builder.Services.AddHealthChecks().AddCheck<OperationOffersStore>("policy", tags: ["ready"]);
        builder.Services.AddAuthentication(AgentAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, AgentAuthenticationHandler>(AgentAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();

        builder.Services.AddMcpServer(ConfigureServer)
            .WithHttpTransport(transport =>
            {
                // Sessions, so that a reload can tell every open session its tool list changed, and the
                // session is the run. Clients on the session-less 2026-07-28 revision fall back to initialize.
                transport.SessionMode = HttpServerSessionMode.Stateful;
                transport.ConfigureSessionOptions = (http, server, _) =>
                {
                    var agentId = http.User.FindFirst(ClaimTypes.NameIdentifier)?.Value
                                  ?? throw new InvalidOperationException("An MCP session opened without a signed-in agent.");
                    server.ToolCollection = http.RequestServices.GetRequiredService<OperationOffersStore>().ToolsFor(agentId);
                    return Task.CompletedTask;
                };
            })
            .WithCallToolHandler((request, cancellationToken) =>
                request.Services!.GetRequiredService<UngrantedCalls>().CallAsync(request, cancellationToken));
        return builder;
    }

    /// <summary>What the HTTP host and stdio mode share: the policy's offers, the agents' connections, the call semantics.</summary>
    public static IServiceCollection AddGatewayCore(this IServiceCollection services)
    {
        services.AddValidatedOptions<GatewayOptions>(GatewayOptions.Section, GatewayOptions.Problems);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<AgentConnections>();
        services.AddHostedService(sp => sp.GetRequiredService<AgentConnections>());
        services.AddSingleton<OperationOffersStore>();
        services.AddHostedService(sp => sp.GetRequiredService<OperationOffersStore>());
        services.AddSingleton<OperationCalls>();
        services.AddSingleton<UngrantedCalls>();
        return services;
    }

    public static void ConfigureServer(McpServerOptions options)
    {
        options.ServerInfo = new Implementation { Name = "agentbus", Title = "AgentBus", Version = typeof(GatewayHost).Assembly.GetName().Version?.ToString() ?? "1.0.0" };
        options.ServerInstructions =
            "Every tool here is an operation a system of record performs for you, under your organisation's policy: a call may be denied " +
            "(the error says why, and which rule), may need a person's approval first (you get the approval id at once; call again with the " +
            "same _meta \"agentbus/idempotencyKey\" for the outcome), and runs at most once per idempotency key.";
        options.Capabilities = new ServerCapabilities { Tools = new ToolsCapability { ListChanged = true } };
    }

    static string Truncate(string text) => text.Length <= 100 ? text : text[..100] + "…";

    public static WebApplication MapMcpGateway(this WebApplication app)
    {
        // MCP asks servers to check Origin against DNS rebinding: a browser sends it, agents do not.
        var allowed = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.AllowedOrigins
            .Select(o => o.TrimEnd('/')).ToHashSet(StringComparer.OrdinalIgnoreCase);
        app.Use(async (http, next) =>
        {
            if (http.Request.Headers.Origin is { Count: > 0 } origin && !allowed.Contains(origin.ToString().TrimEnd('/')))
            {
                await Results.Problem(title: "Origin not allowed", statusCode: StatusCodes.Status403Forbidden,
                    detail: $"Requests from the web origin '{Truncate(origin.ToString())}' are refused; an operator may allow it with Mcp:AllowedOrigins.").ExecuteAsync(http);
                return;
            }
            await next(http);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapMcp("/mcp").RequireAuthorization();
        app.MapGet("/v1/operations", (ClaimsPrincipal user, OperationOffersStore offers) =>
                offers.OfferFor(user.FindFirst(ClaimTypes.NameIdentifier)!.Value) is { } offer
                    ? Results.Json(offer, AgentClient.Json)
                    : Results.Problem(title: "No policy", detail: "The gateway has no policy in force.", statusCode: StatusCodes.Status503ServiceUnavailable))
            .RequireAuthorization();
        return app;
    }
}

/// <summary>
/// A call for a name the session does not list. An operation that exists but is not granted to this
/// agent is still proposed, as the agent, so the policy denies it (no_grant) and the audit records the
/// attempt; a name that is no operation at all is a protocol error.
/// </summary>
public sealed class UngrantedCalls(OperationOffersStore offers, OperationCalls calls)
{
    public ValueTask<CallToolResult> CallAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        var name = request.Params?.Name ?? "";
        var agentId = request.User?.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? request.Services?.GetService<StdioAgent>()?.AgentId;
        if (agentId is null || offers.FindOperation(name) is not { } operation)
            throw new ModelContextProtocol.McpProtocolException($"Unknown tool: '{Truncate(name)}'. tools/list names the operations you may call.",
                ModelContextProtocol.McpErrorCode.InvalidParams);
        return calls.CallAsync(agentId, operation.Tool, operation.Name, request, cancellationToken);
    }

    static string Truncate(string name) => name.Length <= 100 ? name : name[..100] + "…";
}

/// <summary>stdio mode's one agent.</summary>
public sealed record StdioAgent(string AgentId);
