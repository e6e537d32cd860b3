using System.Globalization;
using System.Security.Claims;
using AgentBus.Approvals.Approvers;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace AgentBus.OperatorConsole.Identity;

/// <summary>
/// The same identities as the approvers': an approver token ("abt_…") or, when OIDC is configured, a JWT
/// from the issuer. A browser signs in once with either and keeps a session cookie, re-checked on every
/// request (a revoked approver is out at once; an OIDC session ends when its token expires); a script
/// sends the token as "Authorization: Bearer" on each request, checked by the approvals service's own
/// handlers.
/// </summary>
public static class ConsoleAuthentication
{
    public const string SessionScheme = "AgentBus.Console";
    public const string Scheme = "AgentBus.Console.Auto";
    public const string ViewerPolicy = "console-viewer";
    public const string OperatorPolicy = "console-operator";
    public const string AuditorPolicy = "console-auditor";
    const string SourceClaim = "agentbus:signed-in-with";
    const string ExpiresClaim = "agentbus:token-expires";

    public static IHostApplicationBuilder AddConsoleAuthentication(this IHostApplicationBuilder builder)
    {
        // The approvals service's bearer handlers (approver token or OIDC JWT), configured from the console's options.
        builder.AddApproverAuthentication();
        // The console's own scheme is the default, so every request (the error pages too) knows who is asking.
        builder.Services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "Console session, or a bearer token on the request", policy =>
                policy.ForwardDefaultSelector = context =>
                    ApproverAuthentication.BearerToken(context.Request) is { Length: > 0 } ? ApproverAuthentication.ApiScheme : SessionScheme)
            .AddCookie(SessionScheme, cookie =>
            {
                cookie.Cookie.Name = "agentbus-console";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Strict;
                cookie.LoginPath = "/signin";
                cookie.LogoutPath = "/signout";
                cookie.AccessDeniedPath = "/forbidden";
                cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
                cookie.SlidingExpiration = true;
                cookie.Events.OnValidatePrincipal = ValidateSessionAsync;
                // A refused change answers 403 with a page, not a redirect that a form would follow as success.
                cookie.Events.OnRedirectToAccessDenied = async context =>
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    context.Response.ContentType = "text/html; charset=utf-8";
                    await context.Response.WriteAsync("<!doctype html><title>Not allowed · AgentBus console</title>" +
                                                      "<p id=\"notice\">Your console role does not allow that. <a href=\"/controls\">Back</a></p>");
                };
            });
        builder.Services.AddOptions<CookieAuthenticationOptions>(SessionScheme).Configure<IOptions<ConsoleOptions>>((cookie, options) =>
            cookie.Cookie.SecurePolicy = options.Value.SecureCookies ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest);
        builder.Services.AddTransient<IClaimsTransformation, ConsoleRoleClaims>();

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ViewerPolicy, policy => policy.AddAuthenticationSchemes(Scheme).RequireRole(ConsoleRoles.Viewer))
            .AddPolicy(OperatorPolicy, policy => policy.AddAuthenticationSchemes(Scheme).RequireRole(ConsoleRoles.Operator))
            .AddPolicy(AuditorPolicy, policy => policy.AddAuthenticationSchemes(Scheme).RequireRole(ConsoleRoles.Auditor));
        builder.Services.AddSingleton<ConsoleSignIn>();
        return builder;
    }

    public static ClaimsPrincipal Session(ClaimsIdentity identity, string source, DateTimeOffset? expires)
    {
        var session = new ClaimsIdentity(identity.Claims.Where(c => c.Type != ClaimTypes.Role), SessionScheme, ClaimTypes.Name, ClaimTypes.Role);
        session.AddClaim(new Claim(SourceClaim, source));
        if (expires is { } at)
            session.AddClaim(new Claim(ExpiresClaim, at.UtcTicks.ToString(CultureInfo.InvariantCulture)));
        return new ClaimsPrincipal(session);
    }

    static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var principal = context.Principal!;
        var services = context.HttpContext.RequestServices;
        var clock = services.GetRequiredService<TimeProvider>();
        if (principal.FindFirstValue(SourceClaim) == "oidc")
        {
            // Nothing to re-check against: the session lives as long as the token it was opened with.
            if (!long.TryParse(principal.FindFirstValue(ExpiresClaim), out var ticks) || clock.GetUtcNow().UtcTicks >= ticks)
                await RejectAsync(context);
            return;
        }

        var name = principal.FindFirstValue(ClaimTypes.Name);
        var issued = principal.FindFirstValue(ApproverIdentity.TokenIssuedClaim);
        var agents = services.GetRequiredService<AgentNames>();
        var approver = name is not null && long.TryParse(issued, out var issuedTicks) && agents.AgentNamed(name) is null
            ? await services.GetRequiredService<ApproverStore>().FindActiveAsync(name, new DateTimeOffset(issuedTicks, TimeSpan.Zero),
                context.HttpContext.RequestAborted)
            : null;
        if (approver is null)
        {
            await RejectAsync(context);
            return;
        }
        var current = principal.FindAll(ApproverIdentity.GroupClaim).Select(c => c.Value).Order(StringComparer.Ordinal);
        if (!current.SequenceEqual(approver.Groups.Order(StringComparer.Ordinal)))
        {
            context.ReplacePrincipal(Session(ApproverIdentity.ToIdentity(approver.Name, approver.Groups, SessionScheme, approver.TokenIssuedAt),
                "token", null));
            context.ShouldRenew = true;
        }
    }

    static async Task RejectAsync(CookieValidatePrincipalContext context)
    {
        context.RejectPrincipal();
        await context.HttpContext.SignOutAsync(SessionScheme);
    }
}

/// <summary>What the sign-in form does with the token pasted into it.</summary>
public sealed class ConsoleSignIn(ApproverStore approvers, AgentNames agents, IOptions<ConsoleOptions> options,
    IOptionsMonitor<JwtBearerOptions> jwtOptions, ILogger<ConsoleSignIn> logger)
{
    public sealed record Result(ClaimsPrincipal? Session, string? Error, int Status);

    public async Task<Result> SignInAsync(string? token, CancellationToken ct)
    {
        token = token?.Trim();
        if (string.IsNullOrEmpty(token) || token.Length > 16_384)
            return new(null, "Paste an approver token (abt_…) or, where OIDC is set up, a token from your identity provider.", 401);

        ClaimsIdentity identity;
        string source;
        DateTimeOffset? expires = null;
        if (options.Value.Oidc.Enabled && token.Count(c => c == '.') == 2)
        {
            var (validated, error, until) = await ValidateJwtAsync(token, ct);
            if (validated is null)
                return new(null, error, 401);
            (identity, source, expires) = (validated, "oidc", until);
        }
        else
        {
            var approver = await approvers.AuthenticateAsync(token, ct);
            if (approver is null)
                return new(null, "That token is not valid (unknown, mistyped or revoked).", 401);
            if (agents.AgentNamed(approver.Name) is not null)
                return new(null, $"'{approver.Name}' is an agent's name; an agent's name is never a person signing in.", 403);
            identity = ApproverIdentity.ToIdentity(approver.Name, approver.Groups, ConsoleAuthentication.SessionScheme, approver.TokenIssuedAt);
            source = "token";
        }

        var groups = identity.FindAll(ApproverIdentity.GroupClaim).Select(c => c.Value).ToList();
        if (ConsoleRoles.For(groups, options.Value.Roles).Count == 0)
            return new(null, $"'{identity.Name}' holds no console role: ask for membership of a group that gives one " +
                             $"(viewer: {string.Join(", ", options.Value.Roles.Viewer)}; operator: {string.Join(", ", options.Value.Roles.Operator)}; " +
                             $"auditor: {string.Join(", ", options.Value.Roles.Auditor)}).", 403);
        return new(ConsoleAuthentication.Session(identity, source, expires), null, 200);
    }

    async Task<(ClaimsIdentity? Identity, string? Error, DateTimeOffset? Expires)> ValidateJwtAsync(string token, CancellationToken ct)
    {
        var jwt = jwtOptions.Get(JwtBearerDefaults.AuthenticationScheme);
        var parameters = jwt.TokenValidationParameters.Clone();
        try
        {
            if (parameters.IssuerSigningKey is null && jwt.ConfigurationManager is { } manager)
                parameters.IssuerSigningKeys = (await manager.GetConfigurationAsync(ct)).SigningKeys;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or HttpRequestException)
        {
            logger.LogWarning(ex, "The OIDC issuer's signing keys could not be fetched");
            return (null, "The identity provider's keys could not be fetched; try again shortly.", null);
        }
        var result = await new JsonWebTokenHandler { MapInboundClaims = false }.ValidateTokenAsync(token, parameters);
        if (!result.IsValid)
            return (null, "That token was not accepted: " + (result.Exception?.Message ?? "invalid"), null);
        var (identity, error) = ApproverAuthentication.IdentityFromOidc(new ClaimsPrincipal(result.ClaimsIdentity), options.Value.Oidc, agents,
            ConsoleAuthentication.SessionScheme);
        return (identity, error, identity is null ? null : new DateTimeOffset(result.SecurityToken.ValidTo, TimeSpan.Zero));
    }
}
