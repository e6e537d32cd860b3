using System.Text.Json;
using System.Text.RegularExpressions;
using AgentBus.Contracts;
using AgentBus.Operations.Audit;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using Npgsql;

namespace AgentBus.Operations.Suspensions;

public enum SuspensionKind
{
    Agent,
    Tool,
}

/// <summary>A suspension as it stands after a change: since when and by whom; <see cref="Existing"/> when it was already there.</summary>
public sealed record SuspensionChange(SuspensionKind Kind, string Name, bool Suspended, DateTimeOffset At, string By, bool Existing, DateTimeOffset Now);

/// <summary>What a suspend or resume did: <see cref="Change"/> is null when there was nothing to do; <see cref="AuditError"/> when the change holds but its audit event could not be published.</summary>
public sealed record KillSwitchResult(SuspensionChange? Change, OperatorActionTaken? Action, string? AuditError);

public sealed class KillSwitchException(string message) : Exception(message);

/// <summary>
/// The kill switch, for the CLI (`agentbus agents|tools suspend|resume`) and the console alike. The
/// suspension is a row in PostgreSQL that every policy instance reads within a second and every executor
/// checks before it runs a command (so commands already queued are refused too); each change is then
/// published as OperatorActionTaken, which the audit records with the operator's name.
/// </summary>
public sealed class KillSwitch(NpgsqlDataSource database, OperatorBrokerEndpoint broker, TimeProvider clock)
{
    public const int MaxReasonLength = 500;

    public static string KindName(SuspensionKind kind) => kind == SuspensionKind.Agent ? "agent" : "tool";

    public async Task<KillSwitchResult> SetAsync(SuspensionKind kind, string name, bool suspend, string operatorName, string? reason,
        CancellationToken ct)
    {
        var kindName = KindName(kind);
        if (!Regex.IsMatch(name, Names.Pattern))
            throw new KillSwitchException($"'{name}' is not a valid {kindName} name: {Names.Rule(kindName)}");
        if (string.IsNullOrWhiteSpace(operatorName))
            throw new KillSwitchException("Say who is doing this: the operator's name is recorded in the audit.");
        reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if (reason is { Length: > MaxReasonLength })
            throw new KillSwitchException($"A reason is at most {MaxReasonLength} characters.");

        var change = await ChangeAsync(kind, name, suspend, operatorName.Trim(), reason, ct);
        if (change is null)
            return new(null, null, null);

        var action = new OperatorActionTaken(operatorName.Trim(), $"{kindName}.{(suspend ? "suspend" : "resume")}", name, reason,
            JsonSerializer.SerializeToElement(new { kind = kindName, suspendedAt = change.At, suspendedBy = change.By }), change.Now);
        // Derived from the suspension itself: repeating the change after a failed publish repeats the
        // same audit event instead of adding a second one.
        var messageId = MessageIds.For($"{kindName}:{name}:{change.At:O}", action.Action);
        try
        {
            await OperatorActionPublisher.PublishAsync(broker, action, messageId, ct);
        }
        catch (Exception ex) when (OperatorActionPublisher.IsUnreachable(ex))
        {
            return new(change, action, $"The {kindName} is {(suspend ? "suspended" : "resumed")}, but the audit event could not be published " +
                                       $"({ex.GetBaseException().Message}); do the same again to publish it.");
        }
        return new(change, action, null);
    }

    sealed record SuspensionRow(DateTime At, string By);

    async Task<SuspensionChange?> ChangeAsync(SuspensionKind kind, string name, bool suspend, string who, string? reason, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var kindName = KindName(kind);
        await using var connection = await database.OpenConnectionAsync(ct);
        if (suspend)
        {
            var inserted = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition("""
                INSERT INTO policy_suspensions (kind, name, suspended_by, reason, suspended_at) VALUES (@Kind, @Name, @Who, @Reason, @Now)
                ON CONFLICT (kind, name) DO NOTHING
                RETURNING suspended_at
                """, new { Kind = kindName, Name = name, Who = who, Reason = reason, Now = now }, cancellationToken: ct));
            if (inserted is { } at)
                return new(kind, name, true, Utc(at), who, false, now);
            var existing = await connection.QuerySingleAsync<SuspensionRow>(new CommandDefinition(
                "SELECT suspended_at AS At, suspended_by AS By FROM policy_suspensions WHERE kind = @Kind AND name = @Name",
                new { Kind = kindName, Name = name }, cancellationToken: ct));
            return new(kind, name, true, Utc(existing.At), existing.By, true, now);
        }

        var deleted = await connection.QuerySingleOrDefaultAsync<SuspensionRow>(new CommandDefinition(
            "DELETE FROM policy_suspensions WHERE kind = @Kind AND name = @Name RETURNING suspended_at AS At, suspended_by AS By",
            new { Kind = kindName, Name = name }, cancellationToken: ct));
        return deleted is null ? null : new(kind, name, false, Utc(deleted.At), deleted.By, false, now);
    }

    static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
