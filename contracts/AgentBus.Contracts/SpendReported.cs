namespace AgentBus.Contracts;

/// <summary>
/// An agent reports money it spent outside AgentBus (model inference, mostly), so budgets see
/// everything the agent costs. <see cref="ReportId"/> is chosen by the agent; repeating it
/// repeats the same report, never a second charge.
/// </summary>
public sealed record SpendReported(
    string ReportId,
    string AgentId,
    string RunId,
    decimal AmountUsd,
    string Category,
    string? Description = null);
