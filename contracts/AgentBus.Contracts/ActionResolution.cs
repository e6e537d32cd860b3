using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// The <see cref="OperatorActionTaken.Details"/> of an operator's resolution of an outcome-unknown
/// action (<see cref="OperatorActionTaken.Action"/> = "action.resolve", <see cref="OperatorActionTaken.Target"/>
/// = the action id, <see cref="OperatorActionTaken.Reason"/> = the evidence): what the system of record
/// shows. <see cref="Result"/> is the result it shows for a succeeded action (a JSON object). The
/// policy service acts on it only from the operator broker user.
/// </summary>
public sealed record ActionResolution(
    string ActionId,
    bool Succeeded,
    JsonElement? Result,
    string? ExternalReference);
