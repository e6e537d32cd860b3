using AgentBus.Contracts;

namespace AgentBus.Projections.Audit;

/// <summary>Whose word the audit takes for what executors report (the rule of <see cref="BrokerUsers.MayReportOutcome"/>).</summary>
public static class OutcomeTrust
{
    public static SenderTrust Of(string tool, string? sender) =>
        BrokerUsers.MayReportOutcome(tool, sender) ? SenderTrust.Trusted : SenderTrust.Untrusted;

    /// <summary>An outcome that says an operator resolved the action: the policy service's word only (it records the resolution first).</summary>
    public static SenderTrust Of(ActionSucceeded succeeded, string? sender) =>
        succeeded.ResolvedBy is not null ? Resolution(sender) : Of(succeeded.Tool, sender);

    static SenderTrust Resolution(string? sender) => sender == BrokerUsers.Policy ? SenderTrust.Trusted : SenderTrust.Untrusted;

    /// <summary>
    /// A refusal of a command the policy service did not sign as delivered (another tool's command on
    /// this executor's queue, a bad signature) is any executor's to report: it ends no action and has an
    /// id derived from the delivery, never the outcome's. Its row names the executor that refused.
    /// </summary>
    public static SenderTrust Of(ActionFailed failed, string? sender) =>
        failed.ResolvedBy is not null ? Resolution(sender)
        : Of(failed.Tool, sender) == SenderTrust.Trusted ? SenderTrust.Trusted
        : ExecutionErrorCodes.EndsNoAction(failed) && sender is not null && sender.StartsWith(BrokerUsers.Executor(""), StringComparison.Ordinal)
            ? SenderTrust.TrustedAsSender
            : SenderTrust.Untrusted;
}
