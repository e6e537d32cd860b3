using System.Net;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Projections;
using AgentBus.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AgentBus.IntegrationTests;

/// <summary>
/// /health/live and /health/ready of a host whose broker and database connections run through
/// proxies the test can cut, as if RabbitMQ or PostgreSQL went down under it.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class HealthTests(PipelineFixture fixture) : IAsyncLifetime
{
    TcpProxy _broker = null!;
    TcpProxy _database = null!;
    WebApplication _host = null!;
    HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        _broker = new TcpProxy(fixture.Servers.RabbitHost, fixture.Servers.RabbitPort);
        var database = new NpgsqlConnectionStringBuilder(fixture.ConnectionString);
        _database = new TcpProxy(database.Host!, database.Port);
        database.Host = "127.0.0.1";
        database.Port = _database.Port;
        database.Timeout = 3;

        _host = await fixture.StartHostAsync("agentbus-projections", [], builder =>
        {
            builder.AddServiceDefaults("agentbus-projections", 0).AddProjections();
            builder.Configuration["RabbitMq:Host"] = "127.0.0.1";
            builder.Configuration["RabbitMq:Port"] = _broker.Port.ToString();
            builder.Configuration["Database:ConnectionString"] = database.ConnectionString;
        }, new());
        var address = _host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(15) };
    }

    public async Task DisposeAsync()
    {
        _broker.Restore();
        _database.Restore();
        _http.Dispose();
        await fixture.StopHostAsync(_host);
        await _broker.DisposeAsync();
        await _database.DisposeAsync();
    }

    async Task<HttpStatusCode> Status(string path)
    {
        using var response = await _http.GetAsync(path);
        return response.StatusCode;
    }

    async Task<System.Text.Json.JsonElement> Report()
    {
        using var response = await _http.GetAsync("/health/ready");
        return System.Text.Json.JsonSerializer.Deserialize<System.Text.Json.JsonElement>(await response.Content.ReadAsStringAsync());
    }

    Task Becomes(string path, HttpStatusCode status) =>
        Eventually.Get(() => Status(path), s => s == status, $"{path} answering {(int)status}", TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Readiness_follows_the_broker()
    {
        await Becomes("/health/ready", HttpStatusCode.OK);

        _broker.Cut();
        await Becomes("/health/ready", HttpStatusCode.ServiceUnavailable);
        Assert.Equal(HttpStatusCode.OK, await Status("/health/live"));
        var report = await Report();
        Assert.NotEqual("Healthy", report.GetProperty("checks").GetProperty("masstransit-bus").GetProperty("status").GetString());
        Assert.Equal("Healthy", report.GetProperty("checks").GetProperty("postgresql").GetProperty("status").GetString());

        _broker.Restore();
        await Becomes("/health/ready", HttpStatusCode.OK);
    }

    [Fact]
    public async Task Readiness_follows_the_database()
    {
        await Becomes("/health/ready", HttpStatusCode.OK);

        _database.Cut();
        await Becomes("/health/ready", HttpStatusCode.ServiceUnavailable);
        Assert.Equal(HttpStatusCode.OK, await Status("/health/live"));
        Assert.Equal("Unhealthy", (await Report()).GetProperty("checks").GetProperty("postgresql").GetProperty("status").GetString());

        _database.Restore();
        await Becomes("/health/ready", HttpStatusCode.OK);
    }
}
