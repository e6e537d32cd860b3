using AgentBus.Testbed;

namespace AgentBus.Hostile;

/// <summary>Command-line settings; the servers come from the environment ops/lib/servers.sh writes.</summary>
sealed record HostileOptions(int Bad, int Valid, int Seed, int InFlight, TimeSpan SettleTimeout, TimeSpan Timeout, string LogLevel, bool Keep)
{
    public const string Usage = """
        agentbus-hostile: hostile proposals mixed with valid ones through the real pipeline (policy, noop executor,
        projections as separate processes; agents on their own broker users), then checks that every bad one was
        refused with a reason code (or sits in an error queue with its fault, or the broker refused it), every
        valid one completed, no bad one reached an executor, no service exited, and the audit chain verifies.

          --bad 10000               hostile proposals
          --valid 2000              valid proposals, mixed in at random
          --short                   CI size: --bad 1000 --valid 200 (explicit --bad/--valid still win)
          --seed 8                  the same seed sends the same proposals in the same order
          --in-flight 64            publishes awaiting the broker's confirm at once
          --settle 180              seconds to wait for every answer after the last publish
          --log-level Information   services' Logging:LogLevel:Default
          --timeout 1800            stop (and clean up) after this many seconds whatever happens
          --keep                    keep the vhost, database and logs afterwards

        Exit code 0 only when every check holds; 1 when one does not; 2 for a bad command line.
        Build first: dotnet build AgentBus.sln -c Debug (or Release; it starts the services built next to itself).
        """ + "\n" + ServerEnvironment.Help;

    public static HostileOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
                throw new UsageException(Usage);
            if (args[i] is "--keep" or "--short")
            {
                flags.Add(args[i][2..]);
                continue;
            }
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new UsageException($"Unexpected argument '{args[i]}'.{Environment.NewLine}{Usage}");
            values[args[i][2..]] = args[++i];
        }
        foreach (var name in values.Keys)
            if (name is not ("bad" or "valid" or "seed" or "in-flight" or "settle" or "timeout" or "log-level"))
                throw new UsageException($"Unknown option --{name}.{Environment.NewLine}{Usage}");

        int Int(string name, int fallback, int min, int max)
        {
            if (!values.TryGetValue(name, out var text))
                return fallback;
            if (!int.TryParse(text, out var value) || value < min || value > max)
                throw new UsageException($"--{name} must be a whole number from {min} to {max}.");
            return value;
        }

        var isShort = flags.Contains("short");
        var logLevel = values.GetValueOrDefault("log-level") ?? "Information";
        if (logLevel is not ("Trace" or "Debug" or "Information" or "Warning" or "Error" or "Critical" or "None"))
            throw new UsageException("--log-level is one of Trace, Debug, Information, Warning, Error, Critical, None.");
        return new HostileOptions(
            Int("bad", isShort ? 1000 : 10_000, 0, 1_000_000),
            Int("valid", isShort ? 200 : 2000, 0, 1_000_000),
            Int("seed", 8, 0, int.MaxValue),
            Int("in-flight", 64, 1, 4096),
            TimeSpan.FromSeconds(Int("settle", isShort ? 90 : 180, 10, 3600)),
            TimeSpan.FromSeconds(Int("timeout", isShort ? 600 : 1800, 60, 86_400)),
            logLevel,
            flags.Contains("keep"));
    }
}
