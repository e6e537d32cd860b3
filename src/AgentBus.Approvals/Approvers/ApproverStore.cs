using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace AgentBus.Approvals.Approvers;

public sealed record Approver(string Name, IReadOnlyList<string> Groups, DateTimeOffset CreatedAt, DateTimeOffset TokenIssuedAt, DateTimeOffset? RevokedAt)
{
    public bool Active => RevokedAt is null;
}

public sealed class ApproverException(string message) : Exception(message);

/// <summary>Approvers and their groups in PostgreSQL (table approvers); tokens are stored as SHA-256 only.</summary>
public sealed partial class ApproverStore(NpgsqlDataSource dataSource)
{
    const string Columns = "name AS Name, groups AS Groups, created_at AS CreatedAt, token_issued_at AS TokenIssuedAt, revoked_at AS RevokedAt";

    [GeneratedRegex("^[a-z0-9][a-z0-9._@-]{0,127}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex GroupPattern();

    public static string ValidName(string name)
    {
        var normalized = Saga.ApprovalRules.Normalize(name);
        if (!NamePattern().IsMatch(normalized))
            throw new ApproverException($"'{name}' is not a valid approver name: 1-128 characters from a-z 0-9 . _ @ -, starting with a letter or digit.");
        return normalized;
    }

    public static IReadOnlyList<string> ValidGroups(IEnumerable<string> groups)
    {
        var list = groups.Select(g => g.Trim().ToLowerInvariant()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (list.Count == 0)
            throw new ApproverException("An approver needs at least one group (--group).");
        foreach (var group in list)
            if (!GroupPattern().IsMatch(group))
                throw new ApproverException($"'{group}' is not a valid group: 1-64 characters from a-z 0-9 . _ -, starting with a letter or digit.");
        return list;
    }

    /// <summary>
    /// Adds an approver and returns the token, which is never shown again. A revoked approver of the
    /// same name comes back with a new token and these groups; an active one is refused.
    /// </summary>
    public async Task<(Approver Approver, string Token)> AddAsync(string name, IEnumerable<string> groups, CancellationToken cancellationToken)
    {
        var normalized = ValidName(name);
        var validGroups = ValidGroups(groups).ToArray();
        var token = ApproverTokens.Create();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var added = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"""
            INSERT INTO approvers AS a (name, groups, token_hash) VALUES (@Name, @Groups, @Hash)
            ON CONFLICT (name) DO UPDATE SET groups = EXCLUDED.groups, token_hash = EXCLUDED.token_hash,
                token_issued_at = now(), revoked_at = NULL
                WHERE a.revoked_at IS NOT NULL
            RETURNING {Columns}
            """, new { Name = normalized, Groups = validGroups, Hash = ApproverTokens.Hash(token) }, cancellationToken: cancellationToken));
        return added is null
            ? throw new ApproverException($"Approver '{normalized}' already exists; revoke it first to issue a new token.")
            : (added.ToApprover(), token);
    }

    /// <summary>The active approver holding this token, or null (unknown, malformed or revoked).</summary>
    public async Task<Approver?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (!ApproverTokens.IsWellFormed(token))
            return null;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM approvers WHERE token_hash = @Hash AND revoked_at IS NULL",
            new { Hash = ApproverTokens.Hash(token) }, cancellationToken: cancellationToken));
        return row?.ToApprover();
    }

    /// <summary>The approver still active with the token issued at <paramref name="tokenIssuedAt"/> (a signed-in session's check).</summary>
    public async Task<Approver?> FindActiveAsync(string name, DateTimeOffset tokenIssuedAt, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var approver = (await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM approvers WHERE name = @Name AND revoked_at IS NULL", new { Name = name }, cancellationToken: cancellationToken)))?.ToApprover();
        return approver is not null && Math.Abs((approver.TokenIssuedAt - tokenIssuedAt).TotalMilliseconds) < 1 ? approver : null;
    }

    public async Task<IReadOnlyList<Approver>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<Row>(new CommandDefinition($"SELECT {Columns} FROM approvers ORDER BY name",
            cancellationToken: cancellationToken))).Select(r => r.ToApprover()).ToList();
    }

    /// <summary>Revokes the approver's token at once (API calls and inbox sessions); false when there is no such active approver.</summary>
    public async Task<bool> RevokeAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("UPDATE approvers SET revoked_at = now() WHERE name = @Name AND revoked_at IS NULL",
            new { Name = ValidName(name) }, cancellationToken: cancellationToken)) == 1;
    }

    sealed class Row
    {
        public string Name { get; set; } = "";
        public string[] Groups { get; set; } = [];
        public DateTime CreatedAt { get; set; }
        public DateTime TokenIssuedAt { get; set; }
        public DateTime? RevokedAt { get; set; }

        public Approver ToApprover() => new(Name, Groups, Utc(CreatedAt), Utc(TokenIssuedAt), RevokedAt is { } revoked ? Utc(revoked) : null);

        static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));
    }
}
