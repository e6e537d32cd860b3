using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>Approvers from an OIDC provider: JWTs signed with a test key the service pins by file (no network).</summary>
[Collection(ApprovalsCollection.Name)]
public sealed class OidcApproverTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    const string Issuer = "https://idp.example.test/realms/agentbus";
    const string Audience = "agentbus-approvals";
    readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    readonly string _keyFile = Path.Combine(Path.GetTempPath(), $"agentbus-oidc-{Guid.NewGuid():N}.pem");
    ApprovalsFactory _service = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await File.WriteAllTextAsync(_keyFile, _key.ExportSubjectPublicKeyInfoPem());
        _service = fixture.ExtraApprovals(new Dictionary<string, string?>
        {
            ["Approvals:Oidc:SigningKeyFile"] = _keyFile,
            ["Approvals:Oidc:Issuer"] = Issuer,
            ["Approvals:Oidc:Audience"] = Audience,
            ["Approvals:Oidc:GroupClaim"] = "roles",
        });
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        File.Delete(_keyFile);
        _key.Dispose();
    }

    static string Jwt(ECDsa key, string name, string[] groups, string audience = Audience, DateTime? expires = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            IssuedAt = DateTime.UtcNow.AddMinutes(-1),
            NotBefore = DateTime.UtcNow.AddMinutes(-1),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["preferred_username"] = name, ["roles"] = groups },
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(key), SecurityAlgorithms.EcdsaSha256),
        });

    HttpClient Client(string jwt)
    {
        var http = _service.Http();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
        return http;
    }

    [Fact]
    public async Task A_valid_jwt_from_the_issuer_authenticates_with_its_groups_and_can_approve()
    {
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request());
        using var olga = Client(Jwt(_key, "Olga@Example.com", ["finance", "Ops"]));

        var list = await olga.GetFromJsonAsync<JsonElement>("/api/approvals");
        Assert.Equal("olga@example.com", list.GetProperty("approver").GetString());
        Assert.Equal(["finance", "ops"], list.GetProperty("groups").EnumerateArray().Select(g => g.GetString()).Order());
        Assert.Contains(list.GetProperty("approvals").EnumerateArray(), a => a.GetProperty("approvalId").GetGuid() == request.ApprovalId);

        var approve = await olga.PostAsJsonAsync($"/api/approvals/{request.ApprovalId}/approve", new { comment = "ok" });
        Assert.Equal(HttpStatusCode.OK, approve.StatusCode);
        Assert.Equal("Granted", await fixture.StateAsync(request.ApprovalId));
    }

    [Theory]
    [InlineData("support-bot")]
    [InlineData("Support-Bot ")]
    [InlineData("\uFF53\uFF55\uFF50\uFF50\uFF4F\uFF52\uFF54-\uFF42\uFF4F\uFF54")] // fullwidth
    public async Task An_oidc_login_named_after_an_agent_is_refused_at_sign_in_and_by_separation_of_duties(string name)
    {
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(agent: "support-bot"));

        using (var known = Client(Jwt(_key, name, ["finance"])))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await known.GetAsync("/api/approvals")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await known.PostAsJsonAsync($"/api/approvals/{request.ApprovalId}/approve", new { })).StatusCode);
        }

        // An approvals service that does not read the policy still refuses the approval's own agent.
        await using var blind = fixture.ExtraApprovals(new Dictionary<string, string?>
        {
            ["Approvals:Oidc:SigningKeyFile"] = _keyFile,
            ["Approvals:Oidc:Issuer"] = Issuer,
            ["Approvals:Oidc:Audience"] = Audience,
            ["Approvals:Oidc:GroupClaim"] = "roles",
            ["Approvals:PolicyFile"] = "",
        });
        using var self = blind.Http();
        self.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Jwt(_key, name, ["finance"]));
        var refused = await self.PostAsJsonAsync($"/api/approvals/{request.ApprovalId}/approve", new { });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("separation_of_duties", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reasonCode").GetString());
        Assert.Equal("Pending", await fixture.StateAsync(request.ApprovalId));
    }

    [Fact]
    public async Task Jwts_with_another_key_audience_or_an_expiry_in_the_past_are_401()
    {
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request());
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        foreach (var jwt in new[]
                 {
                     Jwt(otherKey, "mallory", ["finance"]),
                     Jwt(_key, "mallory", ["finance"], audience: "someone-else"),
                     Jwt(_key, "mallory", ["finance"], expires: DateTime.UtcNow.AddMinutes(-5)),
                 })
        {
            using var mallory = Client(jwt);
            Assert.Equal(HttpStatusCode.Unauthorized, (await mallory.GetAsync("/api/approvals")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await mallory.PostAsJsonAsync($"/api/approvals/{request.ApprovalId}/approve", new { })).StatusCode);
        }
        Assert.Equal("Pending", await fixture.StateAsync(request.ApprovalId));
    }
}
