using System.Globalization;
using System.Security.Claims;

namespace AgentBus.Approvals.Approvers;

/// <summary>Who is calling, as every authentication scheme of this service describes it.</summary>
public sealed record ApproverIdentity(string Name, IReadOnlyList<string> Groups)
{
    public const string GroupClaim = "agentbus:group";
    public const string TokenIssuedClaim = "agentbus:token-issued";

    public static ClaimsIdentity ToIdentity(string name, IEnumerable<string> groups, string scheme, DateTimeOffset? tokenIssuedAt = null)
    {
        var identity = new ClaimsIdentity(scheme, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Name, name));
        foreach (var group in groups)
            identity.AddClaim(new Claim(GroupClaim, group));
        if (tokenIssuedAt is { } issued)
            identity.AddClaim(new Claim(TokenIssuedClaim, issued.UtcTicks.ToString(CultureInfo.InvariantCulture)));
        return identity;
    }

    public static ApproverIdentity From(ClaimsPrincipal user) =>
        new(user.FindFirstValue(ClaimTypes.Name) ?? throw new InvalidOperationException("The caller is not authenticated."),
            user.FindAll(GroupClaim).Select(c => c.Value).Distinct(StringComparer.Ordinal).ToList());
}
