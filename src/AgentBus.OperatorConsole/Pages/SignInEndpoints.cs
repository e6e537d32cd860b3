using AgentBus.OperatorConsole.Identity;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgentBus.OperatorConsole.Pages;

static class SignInEndpoints
{
    public const string RateLimit = "signin";

    public static IEndpointRouteBuilder MapConsoleSignIn(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            // No script, no frames, no third-party anything: the pages are plain HTML and forms to this host.
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.CacheControl = "no-cache, no-store";
            headers.Pragma = "no-cache";
            await next();
        });
        app.MapGet("/", () => Results.Redirect("/controls"));
        app.MapGet("/signin", (HttpContext http, IAntiforgery antiforgery, IOptions<ConsoleOptions> options, [FromQuery] string? returnUrl) =>
            Html.Ok(SignInPage(antiforgery.GetAndStoreTokens(http), null, returnUrl, options.Value)));
        app.MapPost("/signin", SignInAsync).RequireRateLimiting(RateLimit);
        app.MapPost("/signout", (Delegate)SignOutAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        app.MapGet("/forbidden", (HttpContext http, IAntiforgery antiforgery) =>
        {
            var user = http.User.Identity?.IsAuthenticated == true ? ConsoleUser.From(http.User) : null;
            return Html.Ok(Html.Page("Not allowed", "", user, user is null ? null : antiforgery.GetAndStoreTokens(http),
                "<div class=\"notice error\" id=\"notice\">Your console role does not allow that.</div>"), 403);
        });
        return app;
    }

    static async Task<IResult> SignInAsync([FromForm] string? token, [FromForm] string? returnUrl, HttpContext http, ConsoleSignIn signIn,
        IAntiforgery antiforgery, IOptions<ConsoleOptions> options)
    {
        var result = await signIn.SignInAsync(token, http.RequestAborted);
        if (result.Session is null)
            return Html.Ok(SignInPage(antiforgery.GetAndStoreTokens(http), result.Error, returnUrl, options.Value), result.Status);
        await http.SignInAsync(ConsoleAuthentication.SessionScheme, result.Session);
        var target = Html.LocalPath(returnUrl, "/controls");
        return Results.Redirect(target);
    }

    static async Task<IResult> SignOutAsync(HttpContext http)
    {
        await http.SignOutAsync(ConsoleAuthentication.SessionScheme);
        return Results.Redirect("/signin");
    }

    static string SignInPage(AntiforgeryTokenSet tokens, string? error, string? returnUrl, ConsoleOptions options)
    {
        var oidc = options.Oidc.Enabled ? " or a token from your identity provider" : "";
        var body = "<div class=\"card\" style=\"max-width:44rem\"><h1>Sign in</h1>" +
                   (error is null ? "" : $"<div class=\"notice error\" role=\"alert\" id=\"notice\">{Html.E(error)}</div>") +
                   $"<form method=\"post\" action=\"/signin\">{Html.Antiforgery(tokens)}" +
                   $"<input type=\"hidden\" name=\"returnUrl\" value=\"{Html.E(returnUrl)}\">" +
                   $"<label for=\"token\">Approver token{oidc}</label><br>" +
                   "<input type=\"password\" id=\"token\" name=\"token\" size=\"60\" autocomplete=\"off\" required> " +
                   "<button type=\"submit\" id=\"signin\" class=\"primary\">Sign in</button></form>" +
                   "<p class=\"muted\">The same identities as approvers: <code>agentbus approvers add NAME --group GROUP</code> prints a token. " +
                   $"Roles come from groups: viewer {Html.E(string.Join(", ", options.Roles.Viewer))}; operator {Html.E(string.Join(", ", options.Roles.Operator))}; " +
                   $"auditor {Html.E(string.Join(", ", options.Roles.Auditor))}.</p></div>";
        return Html.Page("Sign in", "", null, null, body);
    }
}
