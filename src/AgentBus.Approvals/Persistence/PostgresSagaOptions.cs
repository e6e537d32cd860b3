using System.Text.Json;
using MassTransit;

namespace AgentBus.Approvals.Persistence;

/// <summary>
/// Where and how one saga type is stored: a table with a row per instance (correlation_id primary key,
/// version, the instance as JSONB in data, created_at, updated_at) plus typed columns copied from the
/// instance on every write, for the queries a service needs (lists, sweepers) that the JSON cannot index.
/// </summary>
public sealed class PostgresSagaOptions<TSaga>
    where TSaga : class, ISagaVersion
{
    /// <summary>The table, e.g. approval_sagas (a plain identifier; it is written into SQL).</summary>
    public string Table { get; set; } = "";

    /// <summary>Typed columns and how to read each from the instance (DateTimeOffset values are stored as UTC).</summary>
    public List<SagaColumn<TSaga>> Columns { get; } = [];

    /// <summary>How long a consumer waits for another one's row lock before it fails and the endpoint retries.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public JsonSerializerOptions Json { get; set; } = new(JsonSerializerDefaults.Web);

    public PostgresSagaOptions<TSaga> Column(string name, Func<TSaga, object?> value)
    {
        Columns.Add(new SagaColumn<TSaga>(name, value));
        return this;
    }

    internal void Validate()
    {
        if (!SqlIdentifier.IsValid(Table))
            throw new ArgumentException($"Saga table '{Table}' for {typeof(TSaga).Name} is not a plain SQL identifier.");
        foreach (var column in Columns)
            if (!SqlIdentifier.IsValid(column.Name) || SagaRow.Reserved.Contains(column.Name))
                throw new ArgumentException($"Saga column '{column.Name}' for {typeof(TSaga).Name} is not a usable SQL identifier.");
        if (Columns.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != Columns.Count)
            throw new ArgumentException($"Saga columns for {typeof(TSaga).Name} repeat a name.");
        if (LockTimeout <= TimeSpan.Zero)
            throw new ArgumentException("The saga lock timeout must be positive.");
    }
}

public sealed record SagaColumn<TSaga>(string Name, Func<TSaga, object?> Value);

static class SqlIdentifier
{
    public static bool IsValid(string name) =>
        name.Length is > 0 and <= 63 && (char.IsAsciiLetterLower(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');
}

static class SagaRow
{
    public static readonly HashSet<string> Reserved = new(StringComparer.Ordinal) { "correlation_id", "version", "data", "created_at", "updated_at" };
}
