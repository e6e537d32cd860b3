using System.Globalization;

namespace AgentBus.Testbed;

/// <summary>
/// The command line of a load, fault or hostile-input run: <c>--name value</c> options and bare
/// <c>--flag</c>s, each known by name. Anything else (an unknown or misspelt option, a value without
/// its option) is a <see cref="UsageException"/> with the usage text, never a silent default run.
/// </summary>
public sealed class RunArguments
{
    readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public RunArguments(string[] args, string usage, IReadOnlyCollection<string> options, IReadOnlyCollection<string> flags)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : null;
            if (args[i] is "-h" or "--help")
                throw new UsageException(usage);
            if (name is not null && flags.Contains(name))
            {
                _flags.Add(name);
                continue;
            }
            if (name is null || i + 1 >= args.Length)
                throw new UsageException($"Unexpected argument '{args[i]}'.{Environment.NewLine}{usage}");
            if (!options.Contains(name))
                throw new UsageException($"Unknown option --{name}.{Environment.NewLine}{usage}");
            _values[name] = args[++i];
        }
    }

    public bool Flag(string name) => _flags.Contains(name);

    public string? Text(string name) => _values.GetValueOrDefault(name);

    public int Int(string name, int fallback, int min, int max)
    {
        if (!_values.TryGetValue(name, out var text))
            return fallback;
        if (!int.TryParse(text, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new UsageException($"--{name} must be a whole number from {min} to {max}.");
        return value;
    }

    public double Number(string name, double fallback, double min, double max)
    {
        if (!_values.TryGetValue(name, out var text))
            return fallback;
        if (!double.TryParse(text, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new UsageException($"--{name} must be a number from {min} to {max}.");
        return value;
    }

    /// <summary>--log-level: the services' Logging:LogLevel:Default.</summary>
    public string LogLevel()
    {
        var level = Text("log-level") ?? "Information";
        return level is "Trace" or "Debug" or "Information" or "Warning" or "Error" or "Critical" or "None"
            ? level
            : throw new UsageException("--log-level is one of Trace, Debug, Information, Warning, Error, Critical, None.");
    }
}
