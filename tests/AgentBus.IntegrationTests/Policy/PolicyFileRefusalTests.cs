using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy;
using AgentBus.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace AgentBus.IntegrationTests.Policy;

/// <summary>
/// A policy service whose policy file on disk breaks or disappears: the last good version stays in
/// force, the refusal reaches the audit through the projections, and /health/ready says Degraded.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class PolicyFileRefusalTests(PipelineFixture fixture) : IAsyncLifetime
{
    readonly string _file = Path.Combine(Path.GetTempPath(), $"agentbus-policy-{Guid.NewGuid():N}.yaml");
    WebApplication _host = null!;
    HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await PolicyFiles.WriteAsync(_file, PipelineFixture.DefaultPolicyYaml);
        _host = await fixture.StartHostAsync("agentbus-policy", [], b => b.AddServiceDefaults("agentbus-policy", 0).AddPolicy(),
            new() { ["Policy:File"] = _file, ["Policy:Signing:PrivateKeyFile"] = fixture.SigningKeyFile, ["Policy:ReloadInterval"] = "00:00:00.100" });
        var address = _host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(15) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await fixture.StopHostAsync(_host);
        File.Delete(_file);
    }

    async Task<string?> PolicyHealth()
    {
        using var response = await _http.GetAsync("/health/ready");
        var report = JsonSerializer.Deserialize<JsonElement>(await response.Content.ReadAsStringAsync());
        return report.GetProperty("checks").GetProperty("policy").GetProperty("status").GetString();
    }

    Task Refusals(string code, string version, int count) => Eventually.True(async () => await fixture.CountAsync("""
        SELECT count(*) FROM audit_events
        WHERE event_type = 'PolicyFileRefused' AND reason_code = @code AND policy_version = @version AND actor = 'policy' AND outcome = 'refused'
        """, new { code, version }) == count, $"{count} {code} refusal(s) in the audit", TimeSpan.FromSeconds(20));

    [Fact]
    public async Task A_broken_or_deleted_policy_file_is_audited_and_reported_degraded_while_the_last_good_version_stays_in_force()
    {
        var store = _host.Services.GetRequiredService<PolicyStore>();
        var good = store.Current!.Version;
        Assert.Equal("Healthy", await PolicyHealth());

        await PolicyFiles.WriteAsync(_file, "agents: [ { id: support-bot, team: support ");
        await Refusals(PolicyRefusalCodes.PolicyInvalid, good, 1);
        Assert.Equal("Degraded", await PolicyHealth());
        Assert.Equal(good, store.Current!.Version);
        var payload = (await fixture.QueryAsync<string>("SELECT payload FROM audit_events WHERE event_type = 'PolicyFileRefused'")).Single();
        Assert.Contains(Path.GetFileName(_file), payload);

        File.Delete(_file);
        await Refusals(PolicyRefusalCodes.PolicyFileMissing, good, 1);
        Assert.Equal("Degraded", await PolicyHealth());
        Assert.Equal(good, store.Current!.Version);

        await PolicyFiles.WriteAsync(_file, PipelineFixture.DefaultPolicyYaml);
        await Eventually.Get(PolicyHealth, s => s == "Healthy", "healthy again with the good file back", TimeSpan.FromSeconds(10));
        // Each refusal once: the same broken file or the same absence is not recorded again on every check.
        Assert.Equal(2, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE event_type = 'PolicyFileRefused'"));
    }
}
