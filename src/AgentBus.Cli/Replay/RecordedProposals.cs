using System.Text;
using System.Text.Json;
using AgentBus.Contracts;
using Dapper;
using Npgsql;

namespace AgentBus.Cli.Replay;

/// <summary>One proposal as the audit recorded it, with the live policy's decisions on it.</summary>
public sealed record RecordedProposal(
    long Seq,
    Guid EventId,
    DateTime OccurredAt,
    string? AgentId,
    string? ActionId,
    string? Tool,
    string Outcome,
    string Payload,
    byte[]? Raw,
    string? LiveDecision,
    string? LiveReasonCode,
    string? LiveRule,
    string? LiveVersion,
    string? FinalReasonCode,
    string? OutcomeType = null,
    string? OutcomeState = null,
    decimal? CostUsd = null)
{
    /// <summary>The proposal as the agent sent it, from the raw tier, or from the long-lived copy when redaction left its arguments alone; else why not.</summary>
    public (ActionProposed? Proposal, string? NotReplayable) Read()
    {
        if (Outcome == "malformed")
            return (null, "malformed (refused before any rule, under any policy)");
        string text;
        string tier;
        if (Raw is not null)
        {
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Raw);
                tier = "raw";
            }
            catch (DecoderFallbackException)
            {
                return (null, "raw copy is not UTF-8");
            }
        }
        else
        {
            text = Payload;
            tier = "audit";
        }
        ActionProposed? proposal;
        try
        {
            proposal = JsonSerializer.Deserialize<ActionProposed>(text, Json);
        }
        catch (JsonException)
        {
            return (null, $"the {tier} copy does not read as a proposal");
        }
        if (proposal is null || proposal.Arguments.ValueKind == JsonValueKind.Undefined)
            return (null, $"the {tier} copy does not read as a proposal");
        // Redaction masks values the policy may test (a pattern, a bound); such a copy would be decided on a mask.
        if (tier == "audit" && proposal.Arguments.GetRawText().Contains("[redacted", StringComparison.Ordinal))
            return (null, "arguments redacted and the raw copy expired");
        return (proposal, null);
    }

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}

/// <summary>Reads recorded proposals from the audit (audit_events with the raw tier beside it), oldest first, in pages.</summary>
public sealed class RecordedProposals(NpgsqlDataSource database)
{
    const int Page = 2_000;

    public async IAsyncEnumerable<RecordedProposal> ReadAsync(DateTimeOffset since, DateTimeOffset until, string? agent, string? tool,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        long after = 0;
        while (true)
        {
            await using var connection = await database.OpenConnectionAsync(ct);
            var rows = (await connection.QueryAsync<RecordedProposal>(new CommandDefinition("""
                SELECT p.seq AS Seq, p.event_id AS EventId, p.occurred_at AS OccurredAt, p.agent_id AS AgentId, p.action_id AS ActionId, p.tool AS Tool,
                       p.outcome AS Outcome, p.payload::text AS Payload, r.payload AS Raw,
                       d.outcome AS LiveDecision, d.reason_code AS LiveReasonCode, d.rule_id AS LiveRule, d.policy_version AS LiveVersion,
                       f.reason_code AS FinalReasonCode,
                       o.event_type AS OutcomeType, o.outcome AS OutcomeState, o.cost_usd AS CostUsd
                  FROM audit_events p
                  LEFT JOIN audit_raw_payloads r ON r.event_id = p.event_id
                  LEFT JOIN LATERAL (
                        SELECT outcome, reason_code, rule_id, policy_version FROM audit_events d
                         WHERE d.action_id = p.action_id AND d.agent_id IS NOT DISTINCT FROM p.agent_id AND d.event_type = 'ActionDecided'
                         ORDER BY d.seq LIMIT 1) d ON true
                  LEFT JOIN LATERAL (
                        SELECT reason_code FROM audit_events f
                         WHERE f.action_id = p.action_id AND f.agent_id IS NOT DISTINCT FROM p.agent_id AND f.event_type = 'ActionDecided'
                           AND f.reason_code LIKE 'approval\_%' AND f.reason_code <> 'approval_required'
                         ORDER BY f.seq DESC LIMIT 1) f ON true
                  LEFT JOIN LATERAL (
                        SELECT event_type, outcome, cost_usd FROM audit_events o
                         WHERE o.action_id = p.action_id AND o.agent_id IS NOT DISTINCT FROM p.agent_id
                           AND o.event_type IN ('ActionSucceeded', 'ActionFailed')
                         ORDER BY o.seq DESC LIMIT 1) o ON true
                 WHERE p.event_type = 'ActionProposed' AND p.seq > @After
                   AND p.occurred_at >= @Since AND p.occurred_at < @Until
                   AND (CAST(@Agent AS text) IS NULL OR p.agent_id = @Agent) AND (CAST(@Tool AS text) IS NULL OR p.tool = @Tool)
                 ORDER BY p.seq
                 LIMIT @Page
                """, new { After = after, Since = since, Until = until, Agent = agent, Tool = tool, Page }, cancellationToken: ct))).ToList();
            foreach (var row in rows)
                yield return row;
            if (rows.Count < Page)
                yield break;
            after = rows[^1].Seq;
        }
    }
}
