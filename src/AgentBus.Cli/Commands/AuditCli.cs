using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentBus.Audit.Gates;
using AgentBus.Audit.Stories;
using Npgsql;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>Options and output shared by the commands that read the audit: audit, runs, costs, gates.</summary>
static class AuditCli
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Option<string?> Agent() => new("--agent") { Description = "Only this agent" };

    public static Option<string?> Since(string fallback) => new("--since")
    {
        Description = $"From this time: a duration back from now (7d, 12h, 30m) or a UTC date/time (2026-11-01, 2026-11-01T08:00Z); default {fallback}",
    };

    public static Option<string?> Until() => new("--until") { Description = "Up to this time (same forms as --since)" };

    public static Option<bool> AsJson() => new("--json") { Description = "Print JSON instead of a table" };

    public static NpgsqlDataSource DataSource(ParseResult result, Option<string> postgres) =>
        DataSource(Cli.Required(result, postgres, "the AgentBus database (a role that can read the audit)"));

    /// <summary>A data source for a connection string given on the command line; a malformed one is a usage error, not a stack trace.</summary>
    public static NpgsqlDataSource DataSource(string connectionString)
    {
        try
        {
            return NpgsqlDataSource.Create(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException($"--postgres is not a valid connection string ({ex.Message}); e.g. \"Host=127.0.0.1;Username=agentbus;Database=agentbus\".");
        }
    }

    /// <summary>Null when not given; a duration counts back from <paramref name="now"/>.</summary>
    public static DateTimeOffset? Time(string? text, string option, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        return TimeFilter.TryParse(text, now, out var at)
            ? at
            : throw new UsageException($"{option} '{text}' is neither {TimeFilter.Forms}.");
    }

    public static void WriteJson<T>(T value) => Cli.Out.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(value, Json));

    public static string When(DateTimeOffset? at) => at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "";

    public static string Clock(DateTimeOffset at) => at.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    public static string Usd(decimal value) => "$" + value.ToString("0.00####", CultureInfo.InvariantCulture);

    public static string Percent(decimal? share) => share is { } s ? (s * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "—";

    public static string Cut(string? text, int max)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var single = text.ReplaceLineEndings(" ");
        return Markup.Escape(single.Length <= max ? single : single[..(max - 1)] + "…");
    }
}
