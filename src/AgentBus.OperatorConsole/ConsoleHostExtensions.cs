using System.Threading.RateLimiting;
using AgentBus.Approvals;
using AgentBus.Approvals.Approvers;
using AgentBus.Audit.Gates;
using AgentBus.Audit.Reports;
using AgentBus.Audit.Stories;
using AgentBus.OperatorConsole.Chain;
using AgentBus.OperatorConsole.Identity;
using AgentBus.OperatorConsole.Pages;
using AgentBus.Operations.Audit;
using AgentBus.Operations.Broker;
using AgentBus.Operations.Rollback;
using AgentBus.Operations.Suspensions;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Messaging;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.OperatorConsole;

public static class ConsoleHostExtensions
{
    public static IHostApplicationBuilder AddOperatorConsole(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<ConsoleOptions>(ConsoleOptions.Section, ConsoleOptions.Problems);
        // The approvers' identities, checked by the approvals service's own code with the console's settings.
        builder.Services.AddOptions<ApprovalsOptions>().Configure<IOptions<ConsoleOptions>>((approvals, console) =>
        {
            approvals.PolicyFile = console.Value.PolicyFile;
            approvals.Oidc = console.Value.Oidc;
            approvals.SecureCookies = console.Value.SecureCookies;
        });
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApproverStore>();
        builder.Services.AddSingleton<AgentNames>();
        builder.Services.AddSingleton<PolicyInForce>();
        builder.Services.AddSingleton<RunListQuery>();
        builder.Services.AddSingleton<RunStoryQuery>();
        builder.Services.AddSingleton<GateQuery>();
        builder.Services.AddSingleton<CostReportQuery>();
        builder.Services.AddSingleton<ConsoleQueries>();
        builder.Services.AddSingleton(services =>
        {
            var rabbit = services.GetRequiredService<IConfiguration>().GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
            var console = services.GetRequiredService<IOptions<ConsoleOptions>>().Value;
            return new OperatorBrokerEndpoint(new BrokerAddress(rabbit.Host, rabbit.Port, rabbit.Endpoints), rabbit.VirtualHost, new SecretStore(console.SecretsDirectory!));
        });
        builder.Services.AddSingleton(services => new KillSwitch(services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<OperatorBrokerEndpoint>(), services.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<DeadLetterDesk>();
        builder.Services.AddSingleton(services => new RunRollback(services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<OperatorBrokerEndpoint>()));
        builder.Services.AddSingleton<GatesBoard>();
        builder.Services.AddHostedService(services => services.GetRequiredService<GatesBoard>());
        builder.Services.AddSingleton<ChainWatch>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ChainWatch>());
        builder.Services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = "agentbus-console-antiforgery";
            antiforgery.FormFieldName = "__RequestVerificationToken";
        });
        builder.AddConsoleAuthentication();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(SignInEndpoints.RateLimit, http => RateLimitPartition.GetFixedWindowLimiter(
                http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = http.RequestServices.GetRequiredService<IOptions<ConsoleOptions>>().Value.SignInAttemptsPerMinute,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                }));
        });
        return builder;
    }

    public static WebApplication MapOperatorConsole(this WebApplication app)
    {
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapConsoleSignIn();
        app.MapControlsPage();
        app.MapRunsPages();
        app.MapRollback();
        app.MapAgentsPages();
        app.MapDeadLettersPage();
        app.MapGatesPage();
        app.MapAuditPage();
        return app;
    }
}
