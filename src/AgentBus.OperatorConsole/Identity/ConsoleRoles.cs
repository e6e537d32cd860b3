using System.Security.Claims;
using AgentBus.Approvals.Approvers;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AgentBus.OperatorConsole.Identity;

/// <summary>
/// The console's roles. A viewer reads every page; an operator also suspends and resumes agents and
/// tools, replays dead letters and rolls runs back; an auditor also verifies the audit chain on demand
/// and reads the operators' own trail. Operators and auditors read what viewers read. Roles come from
/// the person's approver groups (Console:Roles), recomputed on every request, so a group change or a
/// revoked token takes effect at once.
/// </summary>
public static class ConsoleRoles
{
    public const string Viewer = "viewer";
    public const string Operator = "operator";
    public const string Auditor = "auditor";

    public static IReadOnlyList<string> For(IEnumerable<string> groups, ConsoleRoleGroups map)
    {
        var set = groups.ToHashSet(StringComparer.Ordinal);
        var roles = new List<string>();
        if (map.Operator.Any(set.Contains))
            roles.Add(Operator);
        if (map.Auditor.Any(set.Contains))
            roles.Add(Auditor);
        if (roles.Count > 0 || map.Viewer.Any(set.Contains))
            roles.Insert(0, Viewer);
        return roles;
    }
}

/// <summary>The signed-in person: name, groups and console roles.</summary>
public sealed record ConsoleUser(string Name, IReadOnlyList<string> Groups, IReadOnlyList<string> Roles)
{
    public bool Is(string role) => Roles.Contains(role);

    public bool MayOperate => Is(ConsoleRoles.Operator);

    public bool MayAudit => Is(ConsoleRoles.Auditor);

    public static ConsoleUser From(ClaimsPrincipal principal)
    {
        var approver = ApproverIdentity.From(principal);
        return new(approver.Name, approver.Groups, principal.FindAll(ClaimTypes.Role).Select(c => c.Value).Distinct(StringComparer.Ordinal).ToList());
    }
}

/// <summary>Adds the role claims the groups give, whichever way the person signed in (session cookie, approver token or OIDC JWT).</summary>
sealed class ConsoleRoleClaims(IOptions<ConsoleOptions> options) : IClaimsTransformation
{
    public Task<ClaimsPrincipal> TransformAsync(ClaimsPrincipal principal)
    {
        if (principal.Identity is not ClaimsIdentity { IsAuthenticated: true } identity || identity.HasClaim(c => c.Type == ClaimTypes.Role))
            return Task.FromResult(principal);
        var groups = principal.FindAll(ApproverIdentity.GroupClaim).Select(c => c.Value);
        var withRoles = new ClaimsIdentity(identity.Claims, identity.AuthenticationType, ClaimTypes.Name, ClaimTypes.Role);
        foreach (var role in ConsoleRoles.For(groups, options.Value.Roles))
            withRoles.AddClaim(new Claim(ClaimTypes.Role, role));
        return Task.FromResult(new ClaimsPrincipal(withRoles));
    }
}
