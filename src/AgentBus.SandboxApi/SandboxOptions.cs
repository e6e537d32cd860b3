namespace AgentBus.SandboxApi;

public sealed class SandboxOptions
{
    public const string Section = "Sandbox";

    /// <summary>Bearer token the ticketing API accepts (the ticketing tool's secret).</summary>
    public string TicketingKey { get; set; } = "";

    /// <summary>X-Api-Key the refunds API accepts (the payments tool's secret).</summary>
    public string PaymentsKey { get; set; } = "";

    /// <summary>
    /// Where the keys can be read instead: files named after the tools ("ticketing", "payments"),
    /// the layout `agentbus secrets init` writes. A key set directly wins.
    /// </summary>
    public string? KeysDirectory { get; set; }

    /// <summary>Added to every call after it is recorded, to stand in for a slow system (benchmarks use 50 ms); ?delayMs=N adds more to one call.</summary>
    public int LatencyMs { get; set; }

    /// <summary>When set, every call is also appended here as a JSON line, so the record survives a restart.</summary>
    public string? RecordFile { get; set; }
}
