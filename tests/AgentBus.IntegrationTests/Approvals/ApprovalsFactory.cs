using System.Net;
using AgentBus.Approvals;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>
/// The real approvals host (its Program), on Kestrel at a loopback port, against the fixture's
/// PostgreSQL database and RabbitMQ vhost, with the agentbus-approvals broker user.
/// </summary>
public sealed class ApprovalsFactory(ApprovalsFixture fixture, IReadOnlyDictionary<string, string?>? extra = null)
    : WebApplicationFactory<ApprovalsOptions>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Test");
        builder.UseContentRoot(AppContext.BaseDirectory);
        builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(fixture.ApprovalsSettings(extra)));
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    public Uri ServerUrl
    {
        get
        {
            StartServer();
            return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        }
    }

    public HttpClient Http(string? token = null)
    {
        var http = new HttpClient { BaseAddress = ServerUrl, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }
}
