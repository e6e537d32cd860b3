using System.Collections;

namespace AgentBus.Executor.Tools;

/// <summary>The one secret this executor holds. Never printed: ToString hides it.</summary>
public sealed class ToolSecret(string value)
{
    public const string EnvironmentPrefix = "AGENTBUS_TOOL_SECRET_";

    public string Value { get; } = value;

    public override string ToString() => "***";

    public static string EnvironmentVariableFor(string tool) =>
        EnvironmentPrefix + new string(tool.Select(c => char.IsLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_').ToArray());

    /// <summary>
    /// Reads the secret named after exactly this tool, from AGENTBUS_TOOL_SECRET_NAME or the file
    /// NAME in the secrets directory, and fails startup with a message that says what is wrong: no
    /// secret, an empty one, a secret name that is another tool's, or another tool's secret in
    /// this process's environment (least privilege: a process holds one tool's secret, not two).
    /// </summary>
    public static ToolSecret Load(string tool, string? secretName, string? secretsDirectory, IDictionary? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariables();
        if (!string.IsNullOrEmpty(secretName) && !string.Equals(secretName, tool, StringComparison.Ordinal))
            throw new InvalidOperationException(
                $"Executor:SecretName is '{secretName}' but this executor runs tool '{tool}': an executor loads only its own tool's " +
                $"secret. Remove the setting, or start the executor for '{secretName}' with --tool {secretName}.");

        var variable = EnvironmentVariableFor(tool);
        var foreign = environment.Keys.Cast<object>().Select(k => k.ToString()!)
            .Where(k => k.StartsWith(EnvironmentPrefix, StringComparison.Ordinal) && k != variable)
            .Order(StringComparer.Ordinal).ToList();
        if (foreign.Count > 0)
            throw new InvalidOperationException(
                $"The environment of the executor for '{tool}' holds another tool's secret ({string.Join(", ", foreign)}): " +
                $"give each executor process only its own tool's secret ({variable} or the file '{tool}' under Executor:SecretsDirectory).");

        if (environment[variable] is string fromEnvironment && !string.IsNullOrWhiteSpace(fromEnvironment))
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
