using AgentBus.Approvals.Approvers;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.IntegrationTests.Operations;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace AgentBus.IntegrationTests.PolicyChanges;

/// <summary>
/// The pipeline with the demo's catalog and the approvals service, and a shadow candidate beside the live
/// policy: live, support-bot's refunds above 100 USD need one person of 'finance'; the candidate caps
/// refunds at 20 USD (refund-ceiling), so it would deny what the live policy allows above that.
/// </summary>
public sealed class PolicyChangeFixture : PipelineFixture
{
    public const string LivePolicy = """
        agents:
          - { id: support-bot, team: support, owner: alice }
          - { id: intern-bot, team: support, owner: alice }
        catalog: catalog
        grants:
          - id: support-bot-orders
            agent: support-bot
            tool: payments
            operations: [get_order]
          - id: support-bot-shop
            agent: support-bot
            tool: payments
            operations: [refund]
            approval:
              id: refunds-over-100
              when: [{ argument: /amountUsd, above: 100 }]
              group: finance
              approvers: 1
              expires: 10m
          - id: support-bot-desk
            agent: support-bot
            tool: ticketing
            operations: [create_ticket, comment]
          - id: intern-bot-comments
            agent: intern-bot
            tool: ticketing
            operations: [comment]
        """;

    public static readonly string ShadowPolicy = LivePolicy.Replace(
        "operations: [refund]\n    approval:",
        "operations: [refund]\n    constraints:\n      - { id: refund-ceiling, argument: /amountUsd, max: 20 }\n    approval:",
        StringComparison.Ordinal);

    protected override string Policy => LivePolicy;

    protected override IReadOnlyList<string> Agents => ["support-bot", "intern-bot"];

    public string ShadowFile => Path.Combine(Path.GetDirectoryName(PolicyFile)!, "shadow.yaml");

    public Uri ApprovalsUrl { get; private set; } = null!;

    public ApproverStore Approvers { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        (ApprovalsUrl, Approvers) = await StartApprovalsAsync();
    }

    protected override void WriteToolConfigurations()
    {
        OperationsFixture.WriteDemoCatalog(this, Path.Combine(Path.GetDirectoryName(PolicyFile)!, "catalog"));
        File.WriteAllText(ShadowFile, ShadowPolicy);
    }

    protected override void ConfigureHost(string brokerUser, WebApplicationBuilder builder)
    {
        if (brokerUser == "agentbus-policy")
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Policy:ShadowFile"] = ShadowFile,
                ["Policy:VersionHeartbeat"] = "00:00:01",
            });
    }

    public HttpClient ApprovalsHttp(string token) => ApprovalsHttp(ApprovalsUrl, token);

    /// <summary>`agentbus policy …` in-process against this fixture's database.</summary>
    public Task<(int Exit, string Output)> PolicyCliAsync(params string[] arguments) =>
        Audit.AuditFixture.CliAsync(["policy", .. arguments, "--postgres", ConnectionString]);
}

[CollectionDefinition(Name)]
public sealed class PolicyChangeCollection : ICollectionFixture<PolicyChangeFixture>
{
    public const string Name = "policy-changes";
}
