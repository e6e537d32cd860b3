using System.Text.Json;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Operations;

/// <summary>
/// The pipeline with the demo's own operation catalog (ops/catalog) against the sandbox's stateful
/// shop API: the policy service and both executors read the same catalog files, each executor only
/// its own tool's. The base URL is the in-process sandbox's instead of the demo's 127.0.0.1:5080.
/// </summary>
public sealed class OperationsFixture : PipelineFixture
{
    public const string DemoBaseUrl = "http://127.0.0.1:5080/api";

    public string CatalogDirectory => Path.Combine(Path.GetDirectoryName(PolicyFile)!, "catalog");

    protected override string Policy => """
        agents:
          - { id: support-bot, team: support, receives: [pii.email] }
          - { id: intern-bot, team: support }
          - { id: python-agent, team: support }
        catalog: catalog
        grants:
          - id: support-bot-desk
            agent: support-bot
            tool: ticketing
          - id: support-bot-shop
            agent: support-bot
            tool: payments
            operations: [get_order, refund, lookup]
          - id: intern-bot-comments
            agent: intern-bot
            tool: ticketing
            operations: [comment]
          - id: intern-bot-lookups
            agent: intern-bot
            tool: payments
            operations: [get_order]
          - id: python-agent-desk
            agent: python-agent
            tool: ticketing
            operations: [create_ticket, comment]
            # It opens tickets without the customer's address.
            accepts: []
        limits:
          operations:
            payments.get_order: { callsPerMinute: 3 }
        """;

    /// <summary>The pipeline's state, and the shop's orders, refunds, tickets and call record back to their seed.</summary>
    public async Task ResetWithShopAsync()
    {
        await ResetAsync();
        using var http = new HttpClient { BaseAddress = SandboxUrl };
        (await http.DeleteAsync("/calls")).EnsureSuccessStatusCode();
    }

    protected override void WriteToolConfigurations() =>
        WriteDemoCatalog(this, CatalogDirectory, (tool, yaml) => tool == "payments" ? yaml + LooseLookup : yaml);

    /// <summary>
    /// The demo's catalog (ops/catalog) pointed at the fixture's sandbox, in <paramref name="catalogDirectory"/>
    /// beside the policy file, and a catalog tool file per tool, without retries.
    /// </summary>
    public static void WriteDemoCatalog(PipelineFixture fixture, string catalogDirectory, Func<string, string, string>? extend = null)
    {
        Directory.CreateDirectory(fixture.ToolsDirectory);
        Directory.CreateDirectory(catalogDirectory);
        var sandbox = new Uri(fixture.SandboxUrl, "/api").ToString();
        foreach (var tool in Tools)
        {
            var yaml = File.ReadAllText(Path.Combine(PythonAgent.RepoRoot(), "ops", "catalog", tool + ".yaml")).Replace(DemoBaseUrl, sandbox, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(catalogDirectory, tool + ".yaml"), extend?.Invoke(tool, yaml) ?? yaml);
            File.WriteAllText(Path.Combine(fixture.ToolsDirectory, tool + ".json"), JsonSerializer.Serialize(new
            {
                Tool = new { Kind = "catalog", Catalog = "../catalog", Resilience = new { MaxRetries = 0 } },
            }));
        }
    }

    /// <summary>
    /// An operation whose schema takes any string as the order id, so that hostile values reach the
    /// executor's URL template and its checks, not only the policy's schema.
    /// </summary>
    const string LooseLookup = """

          - name: lookup
            description: "Test only, look up an order by any string: exercises the URL template's checks."
            capabilities: [read]
            risk: low
            readOnly: true
            arguments:
              type: object
              required: [orderId]
              properties:
                orderId: { type: string, maxLength: 4000 }
            http:
              method: GET
              path: /orders/{orderId}
        """;
}

[CollectionDefinition(Name)]
public sealed class OperationsCollection : ICollectionFixture<OperationsFixture>
{
    public const string Name = "operations";
}
