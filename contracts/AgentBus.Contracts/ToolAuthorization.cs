namespace AgentBus.Contracts;

/// <summary>
/// The policy service's signature on one <see cref="ExecuteTool"/>: ECDSA P-256 over SHA-256 of
/// the canonical statement (see AgentBus.ServiceDefaults.Security.AuthorizationStatement) that
/// binds the command's action id, run id, agent id, tool, arguments hash and idempotency key to
/// <see cref="ApprovalId"/>, <see cref="NotAfter"/> and <see cref="KeyId"/>. An executor runs
/// nothing whose signature, key, tool, arguments or expiry does not check out.
/// </summary>
/// <param name="KeyId">Which of the policy service's keys signed (keys rotate; executors trust a set).</param>
/// <param name="ApprovalId">The human approval this execution rests on; null when policy allowed it outright.</param>
/// <param name="NotAfter">The command is refused once this time has passed (whole milliseconds, UTC).</param>
/// <param name="Signature">Base64 of the IEEE P1363 signature (r ‖ s, 64 bytes).</param>
public sealed record ToolAuthorization(
    string KeyId,
    string? ApprovalId,
    DateTimeOffset NotAfter,
    string Signature);
