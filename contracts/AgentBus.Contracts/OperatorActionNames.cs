namespace AgentBus.Contracts;

/// <summary><see cref="OperatorActionTaken.Action"/> values that a service acts on (the routing key on the operator-actions exchange).</summary>
public static class OperatorActionNames
{
    /// <summary>An operator resolved an outcome-unknown action (details: <see cref="ActionResolution"/>); the policy service records it.</summary>
    public const string ResolveAction = "action.resolve";
}
