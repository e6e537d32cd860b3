using System.Text.Json;
using AgentBus.Contracts;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace AgentBus.Mcp;

/// <summary>
/// One granted operation as an MCP tool, bound to the agent it is offered to: its schema and
/// annotations come from the catalog, and a call becomes that agent's proposal.
/// </summary>
public sealed class OperationTool : McpServerTool
{
    static readonly JsonElement AnyObject = JsonSerializer.SerializeToElement(new { type = "object" });

    readonly string _agentId;
    readonly OperationCalls _calls;

    public OperationTool(string agentId, OfferedOperation offer, OperationCalls calls)
    {
        _agentId = agentId;
        _calls = calls;
        Offer = offer;
        var tool = new Tool
        {
            Name = offer.Name,
            Title = offer.Title,
            Description = Describe(offer),
            Annotations = new ToolAnnotations
            {
                Title = offer.Title,
                ReadOnlyHint = offer.ReadOnly,
                DestructiveHint = offer.Destructive,
                IdempotentHint = offer.Idempotent,
                OpenWorldHint = false,
            },
        };
        try
        {
            tool.InputSchema = offer.InputSchema;
        }
        catch (ArgumentException)
        {
            // The catalog accepted a schema MCP does not (not an object schema): the policy still checks
            // every argument against the catalog's schema, so the model is told only that it takes an object.
            tool.InputSchema = AnyObject;
        }
        ProtocolTool = tool;
    }

    public OfferedOperation Offer { get; }

    public override Tool ProtocolTool { get; }

    public override IReadOnlyList<object> Metadata => [];

    public override ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default) =>
        _calls.CallAsync(_agentId, Offer.Tool, Offer.Operation, request, cancellationToken);

    /// <summary>The catalog's description, and when people must approve: a model plans better knowing a call may wait.</summary>
    public static string Describe(OfferedOperation offer) =>
        offer.Approval is { } approval
            ? $"{offer.Description}\n\nNeeds a person's approval ({approval}): such a call returns approval_required at once; call again with the same arguments and _meta \"{OperationNames.IdempotencyKeyMeta}\" to get the outcome."
            : offer.Description;
}
