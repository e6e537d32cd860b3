using System.Text;
using System.Text.Json.Nodes;
using AgentBus.Contracts;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Spectre.Console;

namespace AgentBus.DemoAgent;

/// <summary>
/// An agent that reaches AgentBus only through MCP, as any MCP client would: the official C# MCP client
/// against the gateway's /mcp, signed in with the agent's own broker credential, listing its tools and
/// calling one. An agent of its own: an agent's replies go to its one queue, so one identity uses one
/// front door at a time (docs/mcp.md).
/// </summary>
static class McpDemo
{
    public const string Agent = "desk-assistant";

    /// <summary>False when the gateway could not be used; the reason is printed in one line.</summary>
    public static async Task<bool> RunAsync(string gatewayUrl, string password, string runId)
    {
        AnsiConsole.MarkupLine($"[bold]An MCP client calls {Agent}'s operations through the gateway[/] ({Markup.Escape(gatewayUrl.TrimEnd('/'))}/mcp, run {runId})");
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var transport = new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = new Uri(new Uri(gatewayUrl), "/mcp"),
                TransportMode = HttpTransportMode.StreamableHttp,
                AdditionalHeaders = new Dictionary<string, string>
                {
                    ["Authorization"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Agent}:{password}")),
                },
            });
            await using var client = await McpClient.CreateAsync(transport, cancellationToken: deadline.Token);
            var tools = await client.ListToolsAsync(cancellationToken: deadline.Token);
            AnsiConsole.MarkupLine($"  tools/list: {Markup.Escape(string.Join(", ", tools.Select(t => t.Name)))}");

            var result = await client.CallToolAsync("payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" },
                options: new RequestOptions { Meta = new JsonObject { [OperationNames.RunIdMeta] = runId } }, cancellationToken: deadline.Token);
            var status = result.StructuredContent?.GetProperty("status").GetString() ?? "?";
            var text = string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));
            AnsiConsole.MarkupLine($"  tools/call payments_get_order {{orderId: ORD-1001}}: {(result.IsError == true ? "[red]" : "[green]")}{Markup.Escape(status)}[/] {Markup.Escape(text.Length > 160 ? text[..160] + "…" : text)}");
            return result.IsError != true;
        }
        catch (Exception ex) when (ex is HttpRequestException or McpException or OperationCanceledException or IOException or InvalidOperationException)
        {
            AnsiConsole.MarkupLine($"[red]error:[/] the MCP gateway at {Markup.Escape(gatewayUrl)} could not be used: {Markup.Escape(ex.GetBaseException().Message)}");
            return false;
        }
    }
}
