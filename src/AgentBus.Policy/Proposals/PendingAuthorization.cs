using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using Npgsql;

namespace AgentBus.Policy.Proposals;

/// <summary>
/// A signed command as the audit will record it: kept in policy_pending_authorizations (migration
/// 0780) in the transaction that authorizes it, before it is published, until the projections write
/// it to the audit with the action's outcome (or their sweep does, when no outcome comes).
/// </summary>
/// <param name="MessageId">The command's message id, which is the audit row's event id.</param>
/// <param name="CorrelationId">The proposal's message id, when the command answers one.</param>
/// <param name="Command">The command as JSON text (as sent, so a \u0000 in its arguments stays an escape).</param>
public sealed record PendingAuthorization(Guid MessageId, string? CorrelationId, string Command)
{
    public static PendingAuthorization Of(ExecuteTool command, string? correlationId) =>
        new(MessageIds.ExecuteTool(command.AgentId, command.ActionId), correlationId, JsonSerializer.Serialize(command, WireJson.Options));

    /// <summary>Keeps it in the caller's transaction (policy_keep_authorization, as the admission batch does).</summary>
    public Task KeepAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string actionId, DateTimeOffset authorizedAt,
        CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            SELECT policy_keep_authorization(@ActionId, @MessageId, @CorrelationId, @Command, @AuthorizedAt)
            """, new { ActionId = actionId, MessageId, CorrelationId, Command, AuthorizedAt = authorizedAt },
            transaction, cancellationToken: ct));
}
