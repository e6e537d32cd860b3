namespace AgentBus.Executor.Tools;

/// <summary>The one secret this executor holds. Never printed: ToString hides it.</summary>
public sealed class ToolSecret(string value)
{
    public string Value { get; } = value;

    public override string ToString() => "***";

    public static string EnvironmentVariableFor(string tool) =>
        "AGENTBUS_TOOL_SECRET_" + new string(tool.Select(c => char.IsLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_').ToArray());

    /// <summary>
    /// Reads the secret named after exactly this tool, from AGENTBUS_TOOL_SECRET_NAME or the file
    /// NAME in the secrets directory, and fails startup with the places it looked otherwise.
    /// </summary>
    public static ToolSecret Load(string tool, string? secretsDirectory)
    {
        var variable = EnvironmentVariableFor(tool);
        var fromEnvironment = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
            return new ToolSecret(fromEnvironment.Trim());

        if (!string.IsNullOrEmpty(secretsDirectory))
        {
            var file = Path.Combine(secretsDirectory, tool);
            if (File.Exists(file))
            {
                var fromFile = File.ReadAllText(file).Trim();
                if (fromFile.Length > 0)
                    return new ToolSecret(fromFile);
                throw new InvalidOperationException($"The secret file for tool '{tool}' ({file}) is empty.");
            }
        }

        throw new InvalidOperationException(
            $"No secret for tool '{tool}': set {variable} or put it in the file '{tool}' under Executor:SecretsDirectory" +
            (string.IsNullOrEmpty(secretsDirectory) ? " (not set)." : $" ({secretsDirectory})."));
    }
}
