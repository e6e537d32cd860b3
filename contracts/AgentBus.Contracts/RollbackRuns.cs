using System.Security.Cryptography;
using System.Text;

namespace AgentBus.Contracts;

/// <summary>Where a run's rollback lives: its compensations form a run of their own, named after the run they undo.</summary>
public static class RollbackRuns
{
    public const string Prefix = "undo:";

    /// <summary>As ActionProposed.runId allows (the policy's envelope rule).</summary>
    public const int MaxRunIdLength = 128;

    /// <summary>"undo:" and the run id, or "undo:" and its SHA-256 when that would be too long for a run id.</summary>
    public static string For(string runId)
    {
        var candidate = Prefix + runId;
        return candidate.Length <= MaxRunIdLength
            ? candidate
            : Prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(runId)));
    }
}
