namespace AgentBus.Catalog;

/// <summary>The words the catalog and the policy share for what an operation can do and how much harm it can cause.</summary>
public static class Capabilities
{
    /// <summary>The capabilities an operation may declare; anything else is a typo that would hide it from who-can.</summary>
    public static readonly IReadOnlyList<string> Known =
        ["read", "message.send", "data.export", "data.delete", "money.move", "code.deploy"];

    public static readonly IReadOnlyList<string> RiskLevels = ["low", "medium", "high", "critical"];

    /// <summary>0 for low up to 3 for critical; -1 for a word that is not a risk level.</summary>
    public static int RiskRank(string risk)
    {
        for (var i = 0; i < RiskLevels.Count; i++)
            if (RiskLevels[i] == risk)
                return i;
        return -1;
    }
}
