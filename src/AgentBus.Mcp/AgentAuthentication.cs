using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AgentBus.Mcp;

/// <summary>
/// An agent signs in to the gateway with its own broker credential, as HTTP Basic
/// (<c>Authorization: Basic base64(agentId:password)</c>) or the same token as a bearer token, for MCP
/// clients that only let one set a bearer token. The broker checks the password by logging in as the
/// agent; the request then runs on that login (see <see cref="AgentConnections"/>).
/// </summary>
public sealed class AgentAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    AgentConnections connections,
    OperationOffersStore offers) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "agentbus-agent";
    public const string ConnectionItem = "agentbus.agent-connection";
    const string FailureItem = "agentbus.agent-admission-failure";
    const int MaxAgentIdLength = 128;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
            return AuthenticateResult.NoResult();
        if (Credential(header) is not var (agentId, password))
            return Fail(new AgentAdmissionException(AdmissionFailure.WrongCredential,
                "The Authorization header must be Basic (or Bearer) with base64 of agentId:password."));
        if (!offers.KnowsAgent(agentId))
            // The same answer as a wrong password: the gateway does not tell a caller which agent ids exist.
            return Fail(new AgentAdmissionException(AdmissionFailure.WrongCredential, "Unknown agent or wrong password."));

        try
        {
            var connection = await connections.AdmitAsync(agentId, password, Context.RequestAborted);
            Context.Items[ConnectionItem] = connection;
        }
        catch (AgentAdmissionException ex)
        {
            return Fail(ex.Failure == AdmissionFailure.WrongCredential ? new AgentAdmissionException(ex.Failure, "Unknown agent or wrong password.") : ex);
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, agentId), new Claim(ClaimTypes.Name, agentId)], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    AuthenticateResult Fail(AgentAdmissionException failure)
    {
        Context.Items[FailureItem] = failure;
        return AuthenticateResult.Fail(failure.Message);
    }

    internal static (string AgentId, string Password)? Credential(string header)
    {
        var space = header.IndexOf(' ');
        if (space <= 0)
            return null;
        var scheme = header[..space];
        if (!scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            return null;
        string decoded;
        try
        {
            var token = header[(space + 1)..].Trim().Replace('-', '+').Replace('_', '/');
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Convert.FromBase64String(token.PadRight(token.Length + (4 - token.Length % 4) % 4, '=')));
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return null;
        }
        var colon = decoded.IndexOf(':');
        if (colon <= 0 || colon > MaxAgentIdLength || colon == decoded.Length - 1)
            return null;
        var agentId = decoded[..colon];
        return agentId.Any(char.IsControl) ? null : (agentId, decoded[(colon + 1)..]);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = Context.Items[FailureItem] as AgentAdmissionException;
        var (status, title) = failure?.Failure switch
        {
            AdmissionFailure.BrokerUnavailable => (StatusCodes.Status503ServiceUnavailable, "The broker is unreachable"),
            AdmissionFailure.TooManyFailures => (StatusCodes.Status429TooManyRequests, "Too many failed sign-ins"),
            _ => (StatusCodes.Status401Unauthorized, "Sign in as an agent"),
        };
        Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
            Response.Headers.WWWAuthenticate = "Basic realm=\"agentbus\", charset=\"UTF-8\"";
        if (status == StatusCodes.Status429TooManyRequests)
            Response.Headers.RetryAfter = "60";
        await Results.Problem(title: title, statusCode: status,
            detail: failure?.Message ?? "Send Authorization: Basic base64(agentId:password), the agent's own broker credential.").ExecuteAsync(Context);
    }
}

/// <summary>The connection admitted for this HTTP request; the pooled one when the SDK runs the call outside it.</summary>
public sealed class HttpAgentConnectionSource(IHttpContextAccessor http, AgentConnections connections) : IAgentConnectionSource
{
    public Task<AgentConnection> GetAsync(string agentId, CancellationToken cancellationToken)
    {
        if (http.HttpContext?.Items[AgentAuthenticationHandler.ConnectionItem] is AgentConnection admitted && admitted.AgentId == agentId && admitted.Client is not null)
            return Task.FromResult(admitted);
        return connections.TryGetOpen(agentId) is { } open
            ? Task.FromResult(open)
            : throw new AgentAdmissionException(AdmissionFailure.WrongCredential, $"Agent '{agentId}' has no open broker connection; sign in again.");
    }
}
