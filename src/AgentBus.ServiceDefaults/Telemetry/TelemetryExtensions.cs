using MassTransit.Logging;
using MassTransit.Monitoring;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AgentBus.ServiceDefaults.Telemetry;

public static class TelemetryExtensions
{
    /// <summary>
    /// Traces and metrics from MassTransit and AgentBus; exported over OTLP only when
    /// OTEL_EXPORTER_OTLP_ENDPOINT is set, so an offline host never tries to reach a collector.
    /// OpenTelemetry listens process-wide, so where several hosts share a process (the all-in-one
    /// host) one of them collects for all: the others set Telemetry:Enabled=false, and the one that
    /// collects may name the process with Telemetry:ServiceName.
    /// </summary>
    public static IHostApplicationBuilder AddAgentBusTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        if (!builder.Configuration.GetValue("Telemetry:Enabled", defaultValue: true))
            return builder;
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var name = builder.Configuration["Telemetry:ServiceName"] is { Length: > 0 } configured ? configured : serviceName;

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(name, serviceNamespace: "agentbus"))
            .WithTracing(tracing =>
            {
                tracing.AddSource(DiagnosticHeaders.DefaultListenerName, AgentBusTelemetry.Name)
                    .AddProcessor(new RunIdTagProcessor())
                    .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health"))
                    .AddHttpClientInstrumentation();
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(InstrumentationOptions.MeterName, AgentBusTelemetry.Name)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation();
            });

        if (otlp)
            telemetry.UseOtlpExporter();

        return builder;
    }
}
