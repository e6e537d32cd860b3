namespace AgentBus.Contracts;

/// <summary>
/// The broker users whose word counts for what, as RabbitMQ vouches for them in the AMQP user_id.
/// Every executor may write the outcome exchanges, so only this rule, applied by every reader of
/// outcomes (policy's settlement, the audit, the .NET client, and any agent: contracts/README.md),
/// keeps one tool's executor from speaking for another tool's actions.
/// </summary>
public static class BrokerUsers
{
    /// <summary>The policy service's broker user: the only one that may write commands and decisions.</summary>
    public const string Policy = "agentbus-policy";

    /// <summary>
    /// What comes just before a tool's name in its executors' broker user (agentbus-executor-payments)
    /// and database login (&lt;prefix&gt;executor-payments, whose claims are those of the tool after the last
    /// one: migration 0791).
    /// </summary>
    public const string ExecutorSegment = "executor-";

    /// <summary>The broker user of one tool's executors.</summary>
    public static string Executor(string tool) => $"agentbus-{ExecutorSegment}{tool}";

    /// <summary>
    /// Whether <paramref name="sender"/> may report an outcome (or a start) of an action of
    /// <paramref name="tool"/>: that tool's executors, and the policy service, which copies outcomes to
    /// duplicates of an action.
    /// </summary>
    public static bool MayReportOutcome(string? tool, string? sender, string policyUser = Policy) =>
        !string.IsNullOrEmpty(tool) && sender is not null && (sender == Executor(tool) || sender == policyUser);
}
