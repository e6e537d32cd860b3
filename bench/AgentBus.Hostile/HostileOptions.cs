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
        var arguments = new RunArguments(args, Usage, ["bad", "valid", "seed", "in-flight", "settle", "timeout", "log-level"], ["keep", "short"]);
        var isShort = arguments.Flag("short");
        var logLevel = arguments.LogLevel();
        return new HostileOptions(
            arguments.Int("bad", isShort ? 1000 : 10_000, 0, 1_000_000),
            arguments.Int("valid", isShort ? 200 : 2000, 0, 1_000_000),
            arguments.Int("seed", 8, 0, int.MaxValue),
            arguments.Int("in-flight", 64, 1, 4096),
            TimeSpan.FromSeconds(arguments.Int("settle", isShort ? 90 : 180, 10, 3600)),
            TimeSpan.FromSeconds(arguments.Int("timeout", isShort ? 600 : 1800, 60, 86_400)),
            logLevel,
            arguments.Flag("keep"));
    }
}
