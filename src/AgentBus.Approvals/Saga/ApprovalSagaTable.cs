using System.Text.Json;
using AgentBus.Approvals.Persistence;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.Approvals.Saga;

/// <summary>How approvals are stored: table approval_sagas (migration 0500), the instance as JSON plus the columns lists and the sweeper query.</summary>
public static class ApprovalSagaTable
{
    public const string Table = "approval_sagas";

    public static JsonSerializerOptions Json => WireJson.Options;

    public static void Configure(PostgresSagaOptions<ApprovalState> options)
    {
        options.Table = Table;
        options.Json = Json;
        options.Column("current_state", s => s.CurrentState)
            .Column("action_id", s => s.ActionId)
            .Column("run_id", s => s.RunId)
            .Column("agent_id", s => s.AgentId)
            .Column("tool", s => s.Tool)
            .Column("rule_id", s => s.RuleId)
            .Column("approver_group", s => s.ApproverGroup)
            .Column("escalation_group", s => s.EscalationGroup)
            .Column("expires_at", s => s.ExpiresAt == default ? null : s.ExpiresAt)
            .Column("escalate_at", s => s.EscalateAt)
            .Column("requested_at", s => s.RequestedAt == default ? null : s.RequestedAt);
    }
}
