namespace AgentBus.Contracts;

/// <summary>
/// The policy service refused the policy file on disk: it does not load (<see cref="PolicyRefusalCodes.PolicyInvalid"/>,
/// with its errors as file:line: what is wrong) or it is gone or unreadable (<see cref="PolicyRefusalCodes.PolicyFileMissing"/>).
/// <see cref="VersionInForce"/> is the last good version, which stays in force (null: none, every proposal
/// is denied). <see cref="FileVersion"/> is the refused content's hash (null when there is none to read).
/// Audit only: recorded by the projections, routed by reason code; one event per refused version of the
/// file, or per time it went missing.
/// </summary>
public sealed record PolicyFileRefused(
    string File,
    string ReasonCode,
    IReadOnlyList<string> Errors,
    string? FileVersion,
    string? VersionInForce,
    DateTimeOffset RefusedAt);
