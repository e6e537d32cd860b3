using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace AgentBus.Operations.Broker;

/// <summary>
/// The few RabbitMQ management API calls provisioning needs. Every PUT is idempotent, so applying
/// the same topology twice changes nothing.
/// </summary>
public sealed class RabbitMqManagementClient : IDisposable
{
    readonly HttpClient _http;

    public RabbitMqManagementClient(Uri baseAddress, string user, string password)
        : this(baseAddress, user, password, new HttpClientHandler())
    {
    }

    internal RabbitMqManagementClient(Uri baseAddress, string user, string password, HttpMessageHandler handler)
    {
        _http = new HttpClient(handler) { BaseAddress = new Uri(baseAddress, "/api/"), Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    static string E(string segment) => Uri.EscapeDataString(segment);

    public Task PutVirtualHostAsync(string vhost, CancellationToken ct) =>
        PutAsync($"vhosts/{E(vhost)}", new { description = "AgentBus" }, ct);

    public Task DeleteVirtualHostAsync(string vhost, CancellationToken ct) => DeleteAsync($"vhosts/{E(vhost)}", ct);

    public Task PutUserAsync(string user, string password, string tags, CancellationToken ct) =>
        PutAsync($"users/{E(user)}", new { password, tags }, ct);

    public Task PutPermissionsAsync(string vhost, string user, Permissions permissions, CancellationToken ct) =>
        PutAsync($"permissions/{E(vhost)}/{E(user)}", new { configure = permissions.Configure, write = permissions.Write, read = permissions.Read }, ct);

    public Task PutExchangeAsync(string vhost, string exchange, string type, CancellationToken ct) =>
        PutAsync($"exchanges/{E(vhost)}/{E(exchange)}", new { type, durable = true, auto_delete = false, @internal = false, arguments = new { } }, ct);

    public Task PutQueueAsync(string vhost, string queue, CancellationToken ct) =>
        PutAsync($"queues/{E(vhost)}/{E(queue)}", new { durable = true, auto_delete = false, arguments = new { } }, ct);

    public Task BindQueueAsync(string vhost, string exchange, string queue, string routingKey, CancellationToken ct) =>
        PostAsync($"bindings/{E(vhost)}/e/{E(exchange)}/q/{E(queue)}", new { routing_key = routingKey, arguments = new { } }, ct);

    public Task BindExchangeAsync(string vhost, string source, string destination, string routingKey, CancellationToken ct) =>
        PostAsync($"bindings/{E(vhost)}/e/{E(source)}/e/{E(destination)}", new { routing_key = routingKey, arguments = new { } }, ct);

    public async Task<JsonElement> GetAsync(string path, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        await EnsureSuccess(response, "GET", path);
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    /// <summary>
    /// PUT creates or updates. Two provisioners creating the same cluster-wide object at once (users
    /// are shared by every vhost) can get 400 "…_already_exists" for the one that lost the race; the
    /// object exists by then, so the same PUT again updates it.
    /// </summary>
    async Task PutAsync(string path, object body, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var response = await _http.PutAsJsonAsync(path, body, ct);
            if (attempt < 3 && response.StatusCode == HttpStatusCode.BadRequest
                && (await response.Content.ReadAsStringAsync(ct)).Contains("_already_exists", StringComparison.Ordinal))
                continue;
            await EnsureSuccess(response, "PUT", path);
            return;
        }
    }

    async Task PostAsync(string path, object body, CancellationToken ct)
    {
        using var response = await _http.PostAsJsonAsync(path, body, ct);
        await EnsureSuccess(response, "POST", path);
    }

    async Task DeleteAsync(string path, CancellationToken ct)
    {
        using var response = await _http.DeleteAsync(path, ct);
        if (response.StatusCode != HttpStatusCode.NotFound)
            await EnsureSuccess(response, "DELETE", path);
    }

    static async Task EnsureSuccess(HttpResponseMessage response, string method, string path)
    {
        if (response.IsSuccessStatusCode)
            return;
        var detail = await response.Content.ReadAsStringAsync();
        throw new BrokerProvisioningException(
            $"RabbitMQ management API refused {method} /api/{path}: {(int)response.StatusCode} {response.ReasonPhrase} {detail}".TrimEnd());
    }

    public void Dispose() => _http.Dispose();
}

public sealed record Permissions(string Configure, string Write, string Read)
{
    public const string Nothing = "^$";
}

public sealed class BrokerProvisioningException(string message) : Exception(message);
