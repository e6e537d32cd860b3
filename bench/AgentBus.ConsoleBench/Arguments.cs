using System.Globalization;

namespace AgentBus.ConsoleBench;

sealed class UsageException(string message) : Exception(message);

/// <summary>Reads "--name value" pairs; every option takes a value, so a typo cannot swallow the next one silently.</summary>
sealed class Arguments
{
    readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public Arguments(IReadOnlyList<string> args, params string[] known)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (!known.Contains(name, StringComparer.Ordinal))
                throw new UsageException($"unknown option '{name}'.");
            if (i + 1 >= args.Count)
                throw new UsageException($"{name} needs a value.");
            _values[name] = args[++i];
        }
    }

    public string? Text(string name) => _values.GetValueOrDefault(name);

    public string Required(string name) =>
        Text(name) is { Length: > 0 } value ? value : throw new UsageException($"{name} is required.");

    public int Number(string name, int fallback, int min, int max)
    {
        if (Text(name) is not { } text)
            return fallback;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new UsageException($"{name} must be a whole number from {min} to {max}, not '{text}'.");
    }
}
