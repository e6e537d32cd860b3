using System.Text.Json;
using AgentBus.Approvals.Saga;
using Dapper;
using Npgsql;

namespace AgentBus.Approvals.Api;

/// <summary>Reads approvals for people (no locks): the open ones a set of groups may act on, and one by id.</summary>
public sealed class ApprovalReadStore(NpgsqlDataSource dataSource)
{
    static readonly string OpenForGroups = $"""
        SELECT version AS Version, data::text AS Data FROM approval_sagas
        WHERE current_state IN {ApprovalStatus.In(ApprovalStatus.Pending, ApprovalStatus.Escalated)}
          AND (approver_group = ANY(@Groups) OR (current_state = '{ApprovalStatus.Escalated}' AND escalation_group = ANY(@Groups)))
        ORDER BY expires_at, correlation_id
        LIMIT @Limit
        """;

    public async Task<IReadOnlyList<ApprovalState>> OpenForGroupsAsync(IReadOnlyList<string> groups, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(OpenForGroups, new { Groups = groups.ToArray(), Limit = limit }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToState()).ToList();
    }

    public async Task<ApprovalState?> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            "SELECT version AS Version, data::text AS Data FROM approval_sagas WHERE correlation_id = @Id", new { Id = id },
            cancellationToken: cancellationToken));
        return row?.ToState();
    }

    sealed class Row
    {
        public int Version { get; set; }
        public string Data { get; set; } = "";

        public ApprovalState ToState()
        {
            var state = JsonSerializer.Deserialize<ApprovalState>(Data, ApprovalSagaTable.Json)!;
            state.Version = Version;
            return state;
        }
    }
}
