using System.Net.Http.Headers;
using AgentBus.Approvals;
using AgentBus.Approvals.Approvers;
using AgentBus.Cli.Commands;
using AgentBus.Client;
using AgentBus.IntegrationTests.Audit;
using AgentBus.IntegrationTests.Gateway;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.IntegrationTests.Operations;
using AgentBus.SandboxApi.Shop;
using AgentBus.ServiceDefaults;
using AgentBus.Testbed;
using Npgsql;

namespace AgentBus.IntegrationTests.Rollback;

/// <summary>
/// The pipeline with the demo's catalog against the sandbox's shop, the approvals service, and two rollback
/// identities: undo-bot may close tickets and cancel refunds on its own; careful-undo-bot needs one person of
/// 'finance' for each refund it cancels. The payments executor runs as a child process, so a test can kill it.
/// </summary>
public sealed class RollbackFixture : PipelineFixture
{
    protected override string Policy => """
        agents:
          - { id: support-bot, team: support, owner: alice }
          - { id: undo-bot, team: operations, owner: olga, rollback: true }
          - { id: careful-undo-bot, team: operations, owner: olga, rollback: true }
        catalog: catalog
        grants:
          - id: support-bot-desk
            agent: support-bot
            tool: ticketing
            operations: [create_ticket, comment]
          - id: support-bot-shop
            agent: support-bot
            tool: payments
            operations: [get_order, refund]
          - id: undo-tickets
            agent: undo-bot
            tool: ticketing
            operations: [close_ticket]
          - id: undo-refunds
            agent: undo-bot
            tool: payments
            operations: [cancel_refund]
          - id: careful-undo-refunds
            agent: careful-undo-bot
            tool: payments
            operations: [cancel_refund]
            approval: { id: cancel-needs-finance, group: finance, approvers: 1, expires: 10m }
        """;

    protected override IReadOnlyList<string> Agents => ["support-bot", "undo-bot", "careful-undo-bot"];

    protected override IReadOnlyList<string> InProcessExecutors => ["ticketing"];

    static readonly Dictionary<string, string?> ShortLease = new() { ["Executor__ClaimLease"] = "00:00:02" };

    public ServiceProcess PaymentsExecutor { get; private set; } = null!;

    public Uri ApprovalsUrl { get; private set; } = null!;

    public ApproverStore Approvers { get; private set; } = null!;

    /// <summary>Before and after each test: the sandbox answers at once, and (before) the pipeline's state is reset.</summary>
    public async Task ResetForTestAsync()
    {
        SandboxSettings.LatencyMs = 0;
        await ResetAsync();
    }

    public void RestoreLatency() => SandboxSettings.LatencyMs = 0;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        (ApprovalsUrl, Approvers) = await StartApprovalsAsync();
        await StartPaymentsExecutorAsync();
    }

    protected override void WriteToolConfigurations() =>
        OperationsFixture.WriteDemoCatalog(this, Path.Combine(Path.GetDirectoryName(PolicyFile)!, "catalog"));

    /// <summary>A payments executor process (claims expire after 2 s, so a copy killed mid-call is soon declared lost).</summary>
    public async Task StartPaymentsExecutorAsync()
    {
        PaymentsExecutor = await Executor.ExecutorProcess.StartAsync(this, "payments", ShortLease);
        await Executor.ExecutorProcess.WaitForConsumersAsync(this, "payments", 1, PaymentsExecutor);
    }

    public HttpClient ApprovalsHttp(string token) => ApprovalsHttp(ApprovalsUrl, token);

    /// <summary>`agentbus runs rollback RUN …` in-process against this fixture's servers.</summary>
    public Task<(int Exit, string Output)> RollbackAsync(string runId, params string[] options) =>
        AuditFixture.CliAsync([.. RollbackArguments(runId), .. options, .. Default(options, "--wait", "30s"), .. Default(options, "--as", "undo-bot")]);

    static string[] Default(string[] options, string name, string value) => options.Contains(name) ? [] : [name, value];

    public string[] RollbackArguments(string runId) =>
    [
        "runs", "rollback", runId, "--policy", PolicyFile, "--postgres", ConnectionString, "--rabbitmq-host", Servers.RabbitHost,
        "--rabbitmq-port", Servers.RabbitPort.ToString(), "--vhost", VirtualHost, "--secrets-dir", Secrets.Directory,
        "--approvals-url", ApprovalsUrl.ToString(), "--operator", "olga",
    ];

    public string TicketStatus(string ticketId) => ((Ticket)Shop.GetTicket(ticketId).Body).Status;

    /// <summary>
    /// support-bot acts in a run of its own and waits for each outcome, and for the policy's record of it:
    /// the projections settle an outcome as they record it, a batch after the agent has it, and a
    /// rollback plans from that record.
    /// </summary>
    public async Task<List<ActionResult>> ActAsync(string runId, params (string Operation, object Arguments)[] calls)
    {
        await using var agent = await ConnectAgentAsync("support-bot");
        var results = new List<ActionResult>();
        foreach (var (operation, arguments) in calls)
            results.Add(await agent.RunAsync(operation, arguments, runId, TimeSpan.FromSeconds(30)));
        var ended = results.Where(r => r.Succeeded is not null || r.Failed is not null).Select(r => r.ActionId).ToArray();
        await Eventually.True(async () => await CountAsync("SELECT count(*) FROM policy_actions WHERE action_id = ANY(@ended) AND outcome IS NOT NULL",
            new { ended }) == ended.Length, "the policy's record of every outcome");
        return results;
    }

    public override async Task DisposeAsync()
    {
        if (PaymentsExecutor is not null)
            await PaymentsExecutor.DisposeAsync();
        await base.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class RollbackCollection : ICollectionFixture<RollbackFixture>
{
    public const string Name = "rollback";
}
