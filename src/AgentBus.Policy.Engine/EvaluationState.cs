namespace AgentBus.Policy.Engine;

/// <summary>Agents and tools an operator suspended (the kill switch), as of one moment.</summary>
public sealed class SuspensionSet
{
    public static readonly SuspensionSet None = new([], []);

    public SuspensionSet(IEnumerable<string> agents, IEnumerable<string> tools)
    {
        Agents = agents.ToHashSet(StringComparer.Ordinal);
        Tools = tools.ToHashSet(StringComparer.Ordinal);
    }

    public IReadOnlySet<string> Agents { get; }
    public IReadOnlySet<string> Tools { get; }
}

/// <summary>What the pure evaluator is told about the world: the time and the suspensions in force.</summary>
public readonly record struct EvaluationState(DateTimeOffset Now, SuspensionSet Suspensions)
{
    public static EvaluationState At(DateTimeOffset now) => new(now, SuspensionSet.None);
}

/// <summary>One step of an evaluation, for `agentbus policy explain`.</summary>
public sealed record EvaluationStep(string Step, string Outcome, string Detail, string? RuleId = null);
