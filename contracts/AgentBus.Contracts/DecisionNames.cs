namespace AgentBus.Contracts;

/// <summary>
/// The one wire name of each <see cref="Decision"/>: in JSON (the enum's own names), in the audit's
/// outcome column, in policy_actions, in metrics and in policy test files. Nothing else spells them.
/// </summary>
public static class DecisionNames
{
    public const string Allowed = "allowed";
    public const string Denied = "denied";
    public const string ApprovalRequired = "approval_required";

    public static readonly IReadOnlyList<string> All = [Allowed, Denied, ApprovalRequired];

    public static string WireName(this Decision decision) => decision switch
    {
        Decision.Allowed => Allowed,
        Decision.ApprovalRequired => ApprovalRequired,
        Decision.Denied => Denied,
        _ => throw new ArgumentOutOfRangeException(nameof(decision), decision, "Not a decision."),
    };

    public static bool TryParse(string? name, out Decision decision)
    {
        (var known, decision) = name switch
        {
            Allowed => (true, Decision.Allowed),
            ApprovalRequired => (true, Decision.ApprovalRequired),
            Denied => (true, Decision.Denied),
            _ => (false, Decision.Denied),
        };
        return known;
    }
}
