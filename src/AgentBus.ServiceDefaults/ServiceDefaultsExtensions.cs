using AgentBus.ServiceDefaults.Database;
using AgentBus.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentBus.ServiceDefaults;

public static class ServiceDefaultsExtensions
{
    /// <summary>Logging, telemetry, health checks and the database: what every AgentBus host has.</summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder, string serviceName, int defaultPort)
    {
        builder.AddDefaultSettings(new Dictionary<string, string?>
        {
            ["Urls"] = $"http://127.0.0.1:{defaultPort}",
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
            ["Logging:LogLevel:MassTransit"] = "Warning",
            ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
            ["Logging:LogLevel:Polly"] = "Warning",
            ["Logging:LogLevel:Npgsql"] = "Warning",
        });
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
            console.UseUtcTimestamp = true;
        });
        builder.Services.AddHealthChecks();
        builder.AddAgentBusTelemetry(serviceName);
        builder.AddAgentBusDatabase();
        return builder;
    }

    /// <summary>/health/live answers while the process runs; /health/ready once the bus and database are usable.</summary>
    public static WebApplication MapServiceDefaults(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        return app;
    }
}
