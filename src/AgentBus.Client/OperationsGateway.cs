using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgentBus.Contracts;

namespace AgentBus.Client;

/// <summary>
/// Reads what the MCP gateway offers an agent: <c>GET {gateway}/v1/operations</c> with the agent's
/// broker credential as HTTP Basic. The password goes only into the Authorization header, never
/// into an exception message.
/// </summary>
public static class OperationsGateway
{
    public static readonly Uri DefaultAddress = new("http://127.0.0.1:5105");

    public const string OperationsPath = "v1/operations";

    public static async Task<OperationsOffer> GetOperationsAsync(AgentClientOptions options, Uri? gateway = null, HttpClient? http = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.AgentId);
        gateway ??= DefaultAddress;
        // A base with a path ("http://host/agentbus") keeps it: "v1/operations" resolves under it, not beside it.
        var address = new Uri(gateway.AbsoluteUri.EndsWith('/') ? gateway : new Uri(gateway.AbsoluteUri + "/"), OperationsPath);
        using var request = new HttpRequestMessage(HttpMethod.Get, address);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.AgentId}:{options.Password}")));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));

        var owned = http is null ? new HttpClient { Timeout = TimeSpan.FromSeconds(30) } : null;
        try
        {
            HttpResponseMessage response;
            try
            {
                response = await (http ?? owned!).SendAsync(request, cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new GatewayUnreachableException(address, ex);
            }

            using (response)
            {
                if (response.IsSuccessStatusCode)
                    return await OfferAsync(response, address, cancellationToken);
                var (title, detail) = await ProblemAsync(response, cancellationToken);
                throw response.StatusCode switch
                {
                    HttpStatusCode.Unauthorized => new GatewayCredentialRejectedException(address, options.AgentId, title, detail),
                    HttpStatusCode.ServiceUnavailable => new GatewayUnavailableException(address, title, detail),
                    _ => new GatewayException(address, response.StatusCode, title, detail),
                };
            }
        }
        finally
        {
            owned?.Dispose();
        }
    }

    static async Task<OperationsOffer> OfferAsync(HttpResponseMessage response, Uri address, CancellationToken cancellationToken)
    {
        try
        {
            if (await response.Content.ReadFromJsonAsync<OperationsOffer>(AgentClient.Json, cancellationToken) is { Operations: not null } offer)
                return offer;
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw new GatewayException(address, response.StatusCode, "Not an operations offer", ex.Message);
        }
        throw new GatewayException(address, response.StatusCode, "Not an operations offer", "The body has no operations.");
    }

    /// <summary>The problem+json title and detail, or the reason phrase when the body is not one.</summary>
    static async Task<(string? Title, string? Detail)> ProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            if (problem.ValueKind == JsonValueKind.Object)
                return (Text(problem, "title") ?? response.ReasonPhrase, Text(problem, "detail"));
        }
        catch (JsonException)
        {
        }
        catch (NotSupportedException)
        {
            // No JSON content type at all.
        }
        return (response.ReasonPhrase, null);
    }

    static string? Text(JsonElement problem, string name) =>
        problem.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>GET /v1/operations did not return an offer; <see cref="Title"/> and <see cref="Detail"/> come from the gateway's problem+json body.</summary>
public class GatewayException : Exception
{
    public GatewayException(Uri address, HttpStatusCode status, string? title, string? detail)
        : this($"The gateway at {address} answered {(int)status} {title}{(detail is null ? "" : $": {detail}")}", address, status, title, detail, null)
    {
    }

    protected GatewayException(string message, Uri address, HttpStatusCode? status, string? title, string? detail, Exception? inner)
        : base(message, inner)
    {
        Address = address;
        StatusCode = status;
        Title = title;
        Detail = detail;
    }

    public Uri Address { get; }

    /// <summary>Null when no HTTP answer came at all.</summary>
    public HttpStatusCode? StatusCode { get; }

    public string? Title { get; }
    public string? Detail { get; }
}

/// <summary>401: the gateway does not accept this agent id and password (the agent's broker credential).</summary>
public sealed class GatewayCredentialRejectedException(Uri address, string agentId, string? title, string? detail)
    : GatewayException(address, HttpStatusCode.Unauthorized, title ?? "Unauthorized", detail ?? $"The credential of agent {agentId} was refused.")
{
    public string AgentId { get; } = agentId;
}

/// <summary>503: the gateway runs but cannot reach the broker (or is not ready); try again later.</summary>
public sealed class GatewayUnavailableException(Uri address, string? title, string? detail)
    : GatewayException(address, HttpStatusCode.ServiceUnavailable, title ?? "Service Unavailable", detail);

/// <summary>No HTTP answer at all: nothing listens at the address, or the request timed out.</summary>
public sealed class GatewayUnreachableException(Uri address, Exception inner)
    : GatewayException($"Cannot reach the gateway at {address}: {inner.GetBaseException().Message}", address, null, null, inner.GetBaseException().Message, inner);
