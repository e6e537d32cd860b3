using AgentBus.Approvals;
using AgentBus.Executor;
using AgentBus.Policy;
using AgentBus.Projections;
using AgentBus.ServiceDefaults.Database;

namespace AgentBus.Cli.Database;

/// <summary>The whole schema: every owner's migrations, as `agentbus db migrate` applies them.</summary>
public static class AgentBusSchema
{
    /// <summary>What only operators' tools use: the dead-letter archive (Database/Migrations of the CLI).</summary>
    public static readonly MigrationSet Operations = new("operations", typeof(AgentBusSchema).Assembly);

    public static readonly IReadOnlyList<MigrationSet> All =
    [
        MigrationSet.Platform,
        ProjectionsHostExtensions.Migrations,
        PolicyHostExtensions.Migrations,
        ExecutorHostExtensions.Migrations,
        ApprovalsHostExtensions.Migrations,
        Operations,
    ];
}
