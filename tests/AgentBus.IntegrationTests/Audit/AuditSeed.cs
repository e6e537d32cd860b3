using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Projections.Audit;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>Audit entries as the projections would make them, for tests that write through the writer directly.</summary>
static class AuditSeed
{
    public static JsonElement Args(string method, object? body = null) =>
        JsonSerializer.SerializeToElement(new { method, url = "http://127.0.0.1:5080/ticketing/tickets", body });

    public static AuditEntry Proposed(string actionId, string runId, string agent, string tool, JsonElement arguments, DateTimeOffset at) =>
        new(Guid.NewGuid(), nameof(ActionProposed), actionId, runId, agent, tool, "proposed", null,
            JsonSerializer.Serialize(new ActionProposed(actionId, runId, agent, tool, arguments), AgentBus.ServiceDefaults.Messaging.WireJson.Options),
            at, new RunChange(Proposed: 1))
        {
            Actor = agent,
        };

    public static AuditEntry Decided(string actionId, string runId, string agent, string tool, Decision decision, DateTimeOffset at) =>
        AuditEntry.From(Guid.NewGuid(), new ActionDecided(actionId, runId, agent, tool, decision,
            decision == Decision.Allowed ? ReasonCodes.Allowed : ReasonCodes.NoGrant, "seeded", $"{agent}-{tool}", "v-test", at));

    public static AuditEntry Authorized(string actionId, string runId, string agent, string tool, JsonElement arguments, DateTimeOffset at) =>
        AuditEntry.From(Guid.NewGuid(), new ExecuteTool(actionId, runId, agent, tool, arguments, "sha256:00", null, at,
            new ToolAuthorization("seed-key", null, at.AddMinutes(5), Convert.ToBase64String(new byte[64]))));

    public static AuditEntry Succeeded(string actionId, string runId, string agent, string tool, decimal cost, DateTimeOffset at) =>
        AuditEntry.From(Guid.NewGuid(), new ActionSucceeded(actionId, runId, agent, tool, JsonSerializer.SerializeToElement(new { id = "REF-1" }),
            "REF-1", cost, 12, 1, at));

    public static AuditEntry Failed(string actionId, string runId, string agent, string tool, bool unknown, DateTimeOffset at, int attempts = 1) =>
        AuditEntry.From(Guid.NewGuid(), new ActionFailed(actionId, runId, agent, tool, unknown ? "timeout" : "http_409", "seeded failure",
            unknown, 10, attempts, at));

    public static AuditEntry Reported(string runId, string agent, bool succeeded, DateTimeOffset at) =>
        new(Guid.NewGuid(), nameof(RunCompleted), null, runId, agent, null, succeeded ? "succeeded" : "failed", null,
            JsonSerializer.Serialize(new RunCompleted(runId, agent, succeeded)), at,
            new RunChange(Completion: new RunCompletion(succeeded, null, at)))
        {
            Actor = agent,
        };

    /// <summary>One whole allowed action: proposal, decision, authorization and a successful outcome.</summary>
    public static IEnumerable<AuditEntry> Action(string runId, string agent, string tool, JsonElement arguments, decimal cost, DateTimeOffset at,
        bool proposal = true, bool succeeded = true, bool unknown = false)
    {
        var actionId = Guid.CreateVersion7().ToString();
        if (proposal)
            yield return Proposed(actionId, runId, agent, tool, arguments, at);
        yield return Decided(actionId, runId, agent, tool, Decision.Allowed, at.AddMilliseconds(1));
        yield return Authorized(actionId, runId, agent, tool, arguments, at.AddMilliseconds(2));
        yield return succeeded
            ? Succeeded(actionId, runId, agent, tool, cost, at.AddMilliseconds(3))
            : Failed(actionId, runId, agent, tool, unknown, at.AddMilliseconds(3));
    }
}
