using System.Globalization;
using Dapper;

namespace AgentBus.Testbed;

/// <summary>
/// What a harness prints as its conditions about the machine and the two servers, read once per run:
/// cores, memory, OS and .NET, the RabbitMQ version, and PostgreSQL's durability and size settings.
/// </summary>
public sealed record ServerFacts(string Machine, string RabbitVersion, IReadOnlyDictionary<string, string> Postgres)
{
    public static async Task<ServerFacts> ReadAsync(Scratch scratch, CancellationToken ct)
    {
        await using var connection = await scratch.Database.OpenConnectionAsync(ct);
        var settings = (await connection.QueryAsync<(string Name, string Setting)>(
                "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version', 'shared_buffers', 'max_connections')"))
            .ToDictionary(s => s.Name, s => s.Setting);
        var overview = await scratch.Management.GetAsync("overview", ct);
        var rabbit = overview.TryGetProperty("rabbitmq_version", out var version) ? version.GetString() ?? "?" : "?";
        var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var memory = line is null ? "?" : $"{long.Parse(line[9..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024 / 1024} GB RAM";
        var machine = $"{Environment.ProcessorCount} cores, {memory}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}";
        return new ServerFacts(machine, rabbit, settings);
    }

    public string Setting(string name) => Postgres.GetValueOrDefault(name) ?? "?";
}
