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

    public Task PutQueueAsync(string vhost, string queue, CancellationToken ct) => PutQueueAsync(vhost, queue, BrokerQueues.QuorumArguments, ct);

    public Task PutQueueAsync(string vhost, string queue, IReadOnlyDictionary<string, object> arguments, CancellationToken ct) =>
        PutAsync($"queues/{E(vhost)}/{E(queue)}", new { durable = true, auto_delete = false, arguments }, ct);

    /// <summary>The queue as the management API describes it, or null when there is none.</summary>
    public async Task<JsonElement?> GetQueueAsync(string vhost, string queue, CancellationToken ct)
    {
        var path = $"queues/{E(vhost)}/{E(queue)}";
        using var response = await _http.GetAsync(path, ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        await EnsureSuccess(response, "GET", path);
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    /// <summary>The virtual host as the management API describes it: message_stats (publish, confirm, deliver_get…) as of the last statistics tick.</summary>
    public Task<JsonElement> GetVirtualHostAsync(string vhost, CancellationToken ct) => GetAsync($"vhosts/{E(vhost)}", ct);

    /// <summary>Every queue's name and message counters (message_stats), as of the last statistics tick.</summary>
    public async Task<IReadOnlyList<JsonElement>> ListQueueStatsAsync(string vhost, CancellationToken ct) =>
        (await GetAsync($"queues/{E(vhost)}?columns=name,message_stats", ct)).EnumerateArray().ToList();

    public async Task<IReadOnlyList<JsonElement>> ListQueuesAsync(string vhost, CancellationToken ct)
    {
        var queues = await GetAsync($"queues/{E(vhost)}?columns=name,type,durable,auto_delete,exclusive,consumers,messages,arguments", ct);
        return queues.EnumerateArray().ToList();
    }

    /// <summary>Every binding into the queue except the default exchange's implicit one.</summary>
    public async Task<IReadOnlyList<QueueBinding>> GetQueueBindingsAsync(string vhost, string queue, CancellationToken ct)
    {
        var bindings = await GetAsync($"queues/{E(vhost)}/{E(queue)}/bindings", ct);
        return bindings.EnumerateArray()
            .Where(b => b.GetProperty("source").GetString() is { Length: > 0 })
            .Select(b => new QueueBinding(
                b.GetProperty("source").GetString()!,
                b.GetProperty("routing_key").GetString() ?? "",
                b.GetProperty("properties_key").GetString() ?? "",
                b.TryGetProperty("arguments", out var arguments) && arguments.ValueKind == JsonValueKind.Object
                    ? arguments.EnumerateObject().ToDictionary(a => a.Name, a => (object)a.Value)
                    : new Dictionary<string, object>()))
            .ToList();
    }

    public Task BindQueueAsync(string vhost, QueueBinding binding, string queue, CancellationToken ct) =>
        PostAsync($"bindings/{E(vhost)}/e/{E(binding.Source)}/q/{E(queue)}", new { routing_key = binding.RoutingKey, arguments = binding.Arguments }, ct);

    public Task UnbindQueueAsync(string vhost, QueueBinding binding, string queue, CancellationToken ct) =>
        DeleteAsync($"bindings/{E(vhost)}/e/{E(binding.Source)}/q/{E(queue)}/{E(binding.PropertiesKey)}", ct);

    public Task DeleteQueueAsync(string vhost, string queue, CancellationToken ct) => DeleteAsync($"queues/{E(vhost)}/{E(queue)}", ct);

    public Task DeleteExchangeAsync(string vhost, string exchange, CancellationToken ct) => DeleteAsync($"exchanges/{E(vhost)}/{E(exchange)}", ct);

    /// <summary>
    /// Deletes the queue only while it holds no message and nobody reads it; otherwise the API
    /// refuses. Classic queues only: RabbitMQ does not support these conditions on quorum queues.
    /// </summary>
    public Task DeleteEmptyUnusedQueueAsync(string vhost, string queue, CancellationToken ct) =>
        DeleteAsync($"queues/{E(vhost)}/{E(queue)}?if-empty=true&if-unused=true", ct);

    public Task PutPolicyAsync(string vhost, string name, string pattern, IReadOnlyDictionary<string, object> definition, CancellationToken ct) =>
        PutAsync($"policies/{E(vhost)}/{E(name)}", new Dictionary<string, object>
        {
            ["pattern"] = pattern,
            ["apply-to"] = "queues",
            ["priority"] = 10,
            ["definition"] = definition,
        }, ct);

    public Task DeleteUserAsync(string user, CancellationToken ct) => DeleteAsync($"users/{E(user)}", ct);

    public Task BindQueueAsync(string vhost, string exchange, string queue, string routingKey, CancellationToken ct) =>
        PostAsync($"bindings/{E(vhost)}/e/{E(exchange)}/q/{E(queue)}", new { routing_key = routingKey, arguments = new { } }, ct);

    public Task BindExchangeAsync(string vhost, string source, string destination, string routingKey, CancellationToken ct) =>
        PostAsync($"bindings/{E(vhost)}/e/{E(source)}/e/{E(destination)}", new { routing_key = routingKey, arguments = new { } }, ct);

    /// <summary>Removes a binding <see cref="BindExchangeAsync"/> made (no arguments); one that is not there is fine.</summary>
    public Task UnbindExchangeAsync(string vhost, string source, string destination, string routingKey, CancellationToken ct) =>
        DeleteAsync($"bindings/{E(vhost)}/e/{E(source)}/e/{E(destination)}/{E(routingKey.Length == 0 ? "~" : routingKey)}", ct);

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

/// <summary>A binding into a queue; <see cref="PropertiesKey"/> is how the management API names it for deletion.</summary>
public sealed record QueueBinding(string Source, string RoutingKey, string PropertiesKey, IReadOnlyDictionary<string, object> Arguments);

public sealed record Permissions(string Configure, string Write, string Read)
{
    public const string Nothing = "^$";
}

public sealed class BrokerProvisioningException(string message) : Exception(message);
