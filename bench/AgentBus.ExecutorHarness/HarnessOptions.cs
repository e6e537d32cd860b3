using System.Net;

namespace AgentBus.ExecutorHarness;

/// <summary>Command-line settings; the servers come from the environment ops/lib/servers.sh writes.</summary>
sealed record HarnessOptions(
    int[] Copies,
    int ActionsPerCopy,
    int LatencyMs,
    int Concurrency,
    int Prefetch,
    TimeSpan Timeout,
    string SecretsDirectory,
    string RabbitHost,
    int RabbitPort,
    Uri ManagementUrl,
    string AdminUser,
    string AdminPassword,
    string PostgresAdmin)
{
    public const string Usage = """
        agentbus-executor-harness: executor throughput with 1, 2 and 4 copies (a 50 ms tool by default).

          --copies 1,2,4          copies to measure, in order
          --actions-per-copy 120  actions per measured run = this x copies (so every run lasts about as long)
          --latency-ms 50         the sandbox's delay per call
          --concurrency 1         calls one copy runs at once (Tool:ConcurrentMessageLimit)
          --prefetch 2            deliveries RabbitMQ hands a copy ahead (Tool:PrefetchCount)
          --timeout 600           stop (and clean up) after this many seconds whatever happens

        Needs AGENTBUS_RABBITMQ_MANAGEMENT_URL, AGENTBUS_RABBITMQ_ADMIN_USER/PASSWORD, AGENTBUS_POSTGRES_ADMIN
        (source /var/lib/agentbus/env) and AGENTBUS_SECRETS_DIR. Every server must be on 127.0.0.1.
        """;

    public static HarnessOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
                throw new UsageException(Usage);
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new UsageException($"Unexpected argument '{args[i]}'.{Environment.NewLine}{Usage}");
            values[args[i][2..]] = args[++i];
        }
        foreach (var name in values.Keys)
            if (name is not ("actions-per-copy" or "concurrency" or "copies" or "latency-ms" or "prefetch" or "timeout"))
                throw new UsageException($"Unknown option --{name}.{Environment.NewLine}{Usage}");

        int Int(string name, int fallback, int min, int max)
        {
            if (!values.TryGetValue(name, out var text))
                return fallback;
            if (!int.TryParse(text, out var value) || value < min || value > max)
                throw new UsageException($"--{name} must be a whole number from {min} to {max}.");
            return value;
        }

        static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new UsageException($"{name} is not set: source /var/lib/agentbus/env first.");

        var copies = (values.GetValueOrDefault("copies") ?? "1,2,4").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => int.TryParse(c, out var n) && n is >= 1 and <= 16 ? n : throw new UsageException("--copies takes numbers from 1 to 16, e.g. 1,2,4."))
            .ToArray();

        var options = new HarnessOptions(
            copies,
            Int("actions-per-copy", 120, 10, 10_000),
            Int("latency-ms", 50, 0, 10_000),
            Int("concurrency", 1, 1, 256),
            Int("prefetch", 2, 1, 1024),
            TimeSpan.FromSeconds(Int("timeout", 600, 30, 3600)),
            Environment.GetEnvironmentVariable("AGENTBUS_SECRETS_DIR") is { Length: > 0 } secrets ? secrets : "/var/lib/agentbus/secrets",
            Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_HOST") is { Length: > 0 } host ? host : "127.0.0.1",
            int.Parse(Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_PORT") is { Length: > 0 } port ? port : "5672"),
            new Uri(Env("AGENTBUS_RABBITMQ_MANAGEMENT_URL")),
            Env("AGENTBUS_RABBITMQ_ADMIN_USER"),
            Env("AGENTBUS_RABBITMQ_ADMIN_PASSWORD"),
            Env("AGENTBUS_POSTGRES_ADMIN"));

        if (options.Prefetch < options.Concurrency)
            throw new UsageException("--prefetch must be at least --concurrency.");
        RequireLoopback("RabbitMQ", options.RabbitHost);
        RequireLoopback("the RabbitMQ management API", options.ManagementUrl.Host);
        RequireLoopback("PostgreSQL", new Npgsql.NpgsqlConnectionStringBuilder(options.PostgresAdmin).Host ?? "");
        return options;
    }

    /// <summary>A load harness only ever targets this machine.</summary>
    static void RequireLoopback(string what, string host)
    {
        var loopback = host is "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
        if (!loopback)
            throw new UsageException($"{what} is at '{host}': the harness only runs against servers on 127.0.0.1.");
    }
}

sealed class UsageException(string message) : Exception(message);
