using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace AgentBus.Approvals.Approvers;

/// <summary>
/// Three ways in: the HTTP API takes a bearer token on every call — one of ours ("abt_…", checked
/// against the approvers table) or, when configured, a JWT from the OIDC issuer; the inbox page takes
/// one of our tokens once and keeps a cookie session, re-checked against the approvers table on every
/// request so a revoked approver is out at once.
/// </summary>
public static class ApproverAuthentication
{
    public const string ApiScheme = "AgentBus.Api";
    public const string TokenScheme = "AgentBus.ApproverToken";
    public const string InboxScheme = "AgentBus.Inbox";
    public const string ApiPolicy = "approver-api";
    public const string InboxPolicy = "approver-inbox";

    public static IHostApplicationBuilder AddApproverAuthentication(this IHostApplicationBuilder builder)
    {
        builder.Services.AddAuthentication(ApiScheme)
            .AddPolicyScheme(ApiScheme, "Approver bearer token or OIDC JWT", policy =>
            {
                policy.ForwardDefaultSelector = context =>
                    context.RequestServices.GetRequiredService<IOptions<ApprovalsOptions>>().Value.Oidc.Enabled
                    && BearerToken(context.Request) is { } token && token.Count(c => c == '.') == 2
                        ? JwtBearerDefaults.AuthenticationScheme
                        : TokenScheme;
            })
            .AddJwtBearer()
            .AddScheme<AuthenticationSchemeOptions, ApproverTokenHandler>(TokenScheme, null)
            .AddCookie(InboxScheme, cookie =>
            {
                cookie.Cookie.Name = "agentbus-inbox";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Strict;
                cookie.Cookie.Path = "/inbox";
                cookie.LoginPath = "/inbox/signin";
                cookie.LogoutPath = "/inbox/signout";
                cookie.AccessDeniedPath = "/inbox";
                cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
                cookie.SlidingExpiration = true;
                cookie.Events.OnValidatePrincipal = ValidateSessionAsync;
            });
        builder.Services.AddOptions<CookieAuthenticationOptions>(InboxScheme).Configure<IOptions<ApprovalsOptions>>((cookie, options) =>
            cookie.Cookie.SecurePolicy = options.Value.SecureCookies ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest);

        // Configured from the validated options when the host starts; only used when OIDC is on.
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<IOptions<ApprovalsOptions>>((jwt, options) =>
        {
            if (options.Value.Oidc.Enabled)
                ConfigureJwt(jwt, options.Value.Oidc);
        });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicy, policy => policy.AddAuthenticationSchemes(ApiScheme).RequireAuthenticatedUser())
            .AddPolicy(InboxPolicy, policy => policy.AddAuthenticationSchemes(InboxScheme).RequireAuthenticatedUser());
        return builder;
    }

    static void ConfigureJwt(JwtBearerOptions jwt, OidcOptions oidc)
    {
        jwt.MapInboundClaims = false;
        if (!string.IsNullOrWhiteSpace(oidc.Authority) && string.IsNullOrWhiteSpace(oidc.SigningKeyFile))
            jwt.Authority = oidc.Authority;
        jwt.Audience = oidc.Audience;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = string.IsNullOrWhiteSpace(oidc.Issuer) ? oidc.Authority : oidc.Issuer,
            ValidateAudience = true,
            ValidAudience = oidc.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            NameClaimType = oidc.NameClaim,
        };
        if (!string.IsNullOrWhiteSpace(oidc.SigningKeyFile))
            jwt.TokenValidationParameters.IssuerSigningKey = LoadKey(oidc.SigningKeyFile);

        jwt.Events = new JwtBearerEvents
        {
            OnTokenValidated = context =>
            {
                var (identity, error) = IdentityFromOidc(context.Principal!, oidc,
                    context.HttpContext.RequestServices.GetRequiredService<AgentNames>(), JwtBearerDefaults.AuthenticationScheme);
                if (identity is null)
                    context.Fail(error!);
                else
                    context.Principal = new ClaimsPrincipal(identity);
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>
    /// The approver a validated OIDC token names: its name claim, normalized, never an agent's name, with
    /// its groups. Used for bearer tokens here and for the console's sign-in with a pasted token.
    /// </summary>
    public static (ClaimsIdentity? Identity, string? Error) IdentityFromOidc(ClaimsPrincipal principal, OidcOptions oidc, AgentNames agents, string scheme)
    {
        var name = principal.FindFirstValue(oidc.NameClaim);
        string normalized;
        try
        {
            normalized = ApproverStore.ValidName(name ?? "");
        }
        catch (ApproverException)
        {
            return (null, $"The token's '{oidc.NameClaim}' claim is not a usable approver name.");
        }
        if (agents.AgentNamed(normalized) is { } agent)
            return (null, $"The token's '{oidc.NameClaim}' claim names agent '{agent}'; an agent's name is never an approver.");
        var groups = Groups(principal.FindAll(oidc.GroupClaim).Select(c => c.Value));
        return (ApproverIdentity.ToIdentity(normalized, groups, scheme), null);
    }

    /// <summary>Group claims arrive repeated, as one JSON array, or space-separated, depending on the provider.</summary>
    internal static IReadOnlyList<string> Groups(IEnumerable<string> values)
    {
        var groups = new List<string>();
        foreach (var value in values)
        {
            if (value.TrimStart().StartsWith('['))
            {
                try
                {
                    groups.AddRange(JsonSerializer.Deserialize<string[]>(value) ?? []);
                    continue;
                }
                catch (JsonException)
                {
                    // Not an array after all: treat as text.
                }
            }
            groups.AddRange(value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        return groups.Select(g => g.ToLowerInvariant()).Distinct(StringComparer.Ordinal).ToList();
    }

    static SecurityKey LoadKey(string path)
    {
        var pem = File.ReadAllText(path);
        try
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
        catch (ArgumentException)
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
    }

    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var principal = context.Principal;
        var name = principal?.FindFirstValue(ClaimTypes.Name);
        var issued = principal?.FindFirstValue(ApproverIdentity.TokenIssuedClaim);
        var store = context.HttpContext.RequestServices.GetRequiredService<ApproverStore>();
        var agents = context.HttpContext.RequestServices.GetRequiredService<AgentNames>();
        var approver = name is not null && long.TryParse(issued, out var ticks) && agents.AgentNamed(name) is null
            ? await store.FindActiveAsync(name, new DateTimeOffset(ticks, TimeSpan.Zero), context.HttpContext.RequestAborted)
            : null;
        if (approver is null)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(InboxScheme);
            return;
        }
        // Group changes apply to open sessions at once.
        var current = principal!.FindAll(ApproverIdentity.GroupClaim).Select(c => c.Value).Order(StringComparer.Ordinal);
        if (!current.SequenceEqual(approver.Groups.Order(StringComparer.Ordinal)))
        {
            context.ReplacePrincipal(new ClaimsPrincipal(ApproverIdentity.ToIdentity(approver.Name, approver.Groups, InboxScheme, approver.TokenIssuedAt)));
            context.ShouldRenew = true;
        }
    }
}

/// <summary>Checks "Authorization: Bearer abt_…" against the approvers table on every call.</summary>
public sealed class ApproverTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApproverStore store,
    AgentNames agents)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (ApproverAuthentication.BearerToken(Request) is not { Length: > 0 } token)
            return AuthenticateResult.NoResult();
        var approver = await store.AuthenticateAsync(token, Context.RequestAborted);
        if (approver is null)
            return AuthenticateResult.Fail("Unknown, malformed or revoked approver token.");
        if (agents.AgentNamed(approver.Name) is { } agent)
        {
            Logger.LogWarning("Approver {Approver} has the name of agent {AgentId} in the policy; refused until it is revoked or the agent renamed", approver.Name, agent);
            return AuthenticateResult.Fail($"Approver '{approver.Name}' has an agent's name; an agent's name is never an approver.");
        }
        var identity = ApproverIdentity.ToIdentity(approver.Name, approver.Groups, Scheme.Name, approver.TokenIssuedAt);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(statusCode: 401, title: "unauthenticated",
            detail: "Send an approver token: Authorization: Bearer <token from `agentbus approvers add`>.").ExecuteAsync(Context);
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Results.Problem(statusCode: 403, title: "forbidden").ExecuteAsync(Context);
    }
}
