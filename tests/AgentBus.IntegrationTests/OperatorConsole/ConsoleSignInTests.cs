using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using AgentBus.IntegrationTests.Approvals;
using AgentBus.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AgentBus.IntegrationTests.OperatorConsole;

/// <summary>
/// Signing in to the console with the approvers' identities, over plain HTTP as a browser would: an approver
/// token or an OIDC token (a JWT signed with a test key the console pins by file), pasted into the form or
/// sent as a bearer token; and who is turned away.
/// </summary>
[Collection(ApprovalsCollection.Name)]
public sealed partial class ConsoleSignInTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    const string Issuer = "https://idp.example.test/realms/agentbus";
    const string Audience = "agentbus-console";
    readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    readonly string _keyFile = Path.Combine(Path.GetTempPath(), $"agentbus-console-oidc-{Guid.NewGuid():N}.pem");
    WebApplication _console = null!;
    Uri _url = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAllAsync();
        await File.WriteAllTextAsync(_keyFile, _key.ExportSubjectPublicKeyInfoPem());
        _console = await fixture.StartConsoleAsync(new Dictionary<string, string?>
        {
            ["Console:Oidc:SigningKeyFile"] = _keyFile,
            ["Console:Oidc:Issuer"] = Issuer,
            ["Console:Oidc:Audience"] = Audience,
            ["Console:Oidc:GroupClaim"] = "groups",
            ["Console:SignInAttemptsPerMinute"] = "5",
        });
        _url = PipelineFixture.UrlOf(_console);
    }

    public async Task DisposeAsync()
    {
        await fixture.StopHostAsync(_console);
        File.Delete(_keyFile);
        _key.Dispose();
    }

    string Jwt(string name, string[] groups, DateTime? expires = null, ECDsa? key = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = DateTime.UtcNow.AddMinutes(-2),
            NotBefore = DateTime.UtcNow.AddMinutes(-2),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["preferred_username"] = name, ["groups"] = groups },
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(key ?? _key), SecurityAlgorithms.EcdsaSha256),
        });

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    /// <summary>A browser's visit: the sign-in form (and its antiforgery cookie), the token posted, the redirect followed by hand.</summary>
    async Task<(HttpClient Browser, HttpResponseMessage Answer)> SignInAsync(string token, string returnUrl = "/agents")
    {
        var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = _url };
        var form = await browser.GetStringAsync($"/signin?returnUrl={Uri.EscapeDataString(returnUrl)}");
        var antiforgery = AntiforgeryField().Match(form).Groups[1].Value;
        var answer = await browser.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(antiforgery), ["token"] = token, ["returnUrl"] = returnUrl,
        }));
        return (browser, answer);
    }

    [Fact]
    public async Task A_jwt_from_the_issuer_signs_in_with_its_groups_as_roles_and_lands_where_it_was_going()
    {
        var (browser, answer) = await SignInAsync(Jwt("Olga@Example.com", ["console-auditors", "finance"]), "/audit");
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        Assert.Equal("/audit", answer.Headers.Location!.OriginalString);
        var page = await browser.GetStringAsync("/audit");
        Assert.Contains("olga@example.com", page);
        Assert.Contains("viewer, auditor", page);
        Assert.Contains("id=\"verify\"", page);
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.PostAsync("/agents/intern-bot/suspend", new FormUrlEncodedContent([]))).StatusCode);
    }

    [Fact]
    public async Task A_jwt_or_an_approver_token_works_as_a_bearer_token_for_scripts()
    {
        using var http = new HttpClient { BaseAddress = _url };
        http.DefaultRequestHeaders.Authorization = new("Bearer", Jwt("vic", ["console-viewers"]));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/runs")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new("Bearer", await fixture.AddApproverAsync("val", "console-viewers"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/gates")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new("Bearer", "abt_not-a-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/runs")).StatusCode);
    }

    [Fact]
    public async Task Without_a_session_a_page_asks_to_sign_in()
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _url };
        var answer = await http.GetAsync("/controls");
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        Assert.StartsWith("/signin", answer.Headers.Location!.PathAndQuery);
        Assert.Contains("default-src 'none'", (await http.GetAsync("/signin")).Headers.GetValues("Content-Security-Policy").Single());
    }

    public static TheoryData<string, string> Refusals() => new()
    {
        { "expired", "not accepted" },
        { "foreign key", "not accepted" },
        { "agent name", "an agent's name" },
        { "no console group", "holds no console role" },
        { "approver without a console group", "holds no console role" },
        { "unknown token", "not valid" },
        { "empty", "Paste an approver token" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_token_that_is_expired_forged_an_agents_or_gives_no_role_is_turned_away_with_the_reason(string kind, string reason)
    {
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var token = kind switch
        {
            "expired" => Jwt("olga", ["console-operators"], expires: DateTime.UtcNow.AddMinutes(-1)),
            "foreign key" => Jwt("olga", ["console-operators"], key: stranger),
            "agent name" => Jwt("support-bot", ["console-operators"]),
            "no console group" => Jwt("olga", ["finance"]),
            "approver without a console group" => await fixture.AddApproverAsync("fiona", "finance"),
            "unknown token" => "abt_" + new string('x', 43),
            _ => " ",
        };
        var (browser, answer) = await SignInAsync(token);
        Assert.True(answer.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"{kind}: {answer.StatusCode}");
        Assert.Contains(reason, WebUtility.HtmlDecode(await answer.Content.ReadAsStringAsync()));
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/agents")).StatusCode);
    }

    [Fact]
    public async Task A_revoked_approver_is_signed_out_at_the_next_click()
    {
        var token = await fixture.AddApproverAsync("rex", "console-operators");
        var (browser, answer) = await SignInAsync(token);
        Assert.Equal(HttpStatusCode.Redirect, answer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/agents")).StatusCode);
        Assert.True(await fixture.Approvers.RevokeAsync("rex", CancellationToken.None));
        var after = await browser.GetAsync("/agents");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("/signin", after.Headers.Location!.PathAndQuery);
    }

    [Fact]
    public async Task Sign_in_never_redirects_off_this_host()
    {
        var (_, answer) = await SignInAsync(await fixture.AddApproverAsync("ola", "console-viewers"), "//evil.example/phish");
        Assert.Equal("/controls", answer.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Guessing_tokens_is_slowed_to_a_few_attempts_a_minute()
    {
        for (var attempt = 1; attempt <= 5; attempt++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await SignInAsync("abt_guess-" + attempt)).Answer.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SignInAsync(await fixture.AddApproverAsync("gus", "console-viewers"))).Answer.StatusCode);
    }
}
