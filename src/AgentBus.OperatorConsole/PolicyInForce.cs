using AgentBus.Policy.Engine;
using Microsoft.Extensions.Options;

namespace AgentBus.OperatorConsole;

/// <summary>
/// The policy file the policy service enforces, as the console shows it: re-read when the file changes;
/// a broken edit keeps the last good version (as the policy service does) and the pages say so.
/// </summary>
public sealed class PolicyInForce(IOptions<ConsoleOptions> options, ILogger<PolicyInForce> logger)
{
    readonly Lock _gate = new();
    (DateTime Modified, long Length)? _seen;
    PolicySnapshot? _policy;
    IReadOnlyList<string> _errors = [];

    public sealed record View(PolicySnapshot? Policy, IReadOnlyList<string> Errors, string File);

    public View Current()
    {
        var file = Path.GetFullPath(options.Value.PolicyFile!);
        lock (_gate)
        {
            var info = new FileInfo(file);
            var stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : default;
            if (_seen != stamp)
            {
                _seen = stamp;
                try
                {
                    var loaded = PolicyLoader.LoadFile(file);
                    _errors = loaded.Errors;
                    if (loaded.Policy is { } policy)
                        _policy = policy;
                    else
                        logger.LogWarning("The policy file {File} does not load ({Count} problem(s)); the console keeps showing the last good version", file,
                            loaded.Errors.Count);
                }
                catch (IOException ex)
                {
                    _errors = [$"{file}: {ex.Message}"];
                }
            }
            return new(_policy, _errors, file);
        }
    }
}
