using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

/// <summary>A policy with one of every rule kind, shared by the evaluator tests.</summary>
static class TestPolicy
{
    public const string Yaml = """
        agents:
          - id: support-bot
            team: support
            owner: sam
          - id: intern-bot
            team: support
          - id: retired-bot
            team: support
            status: suspended
          - id: notify-bot
            team: platform
        teams:
          - { id: support, members: [sam, tina] }
        tools:
          - name: ticketing
            capabilities: [message.send]
            risk: low
            unitCostUsd: 0.002
            arguments:
              type: object
              required: [method, url]
              additionalProperties: false
              properties:
                method: { enum: [GET, POST] }
                url: { type: string, maxLength: 200 }
                body: { type: object }
            destinations:
              from: [/url]
              urlPrefixes: [http://127.0.0.1:5080/ticketing]
              hosts: [tickets.internal]
          - name: payments
            capabilities: [money.move]
            risk: high
            unitCostUsd: 0.01
            arguments:
              type: object
              required: [method, url]
              properties:
                method: { enum: [GET, POST] }
                url: { type: string }
                body:
                  type: object
                  properties:
                    orderId: { type: string }
                    amountUsd: { type: number }
                    currency: { type: string }
            destinations:
              from: [/url]
              urlPrefixes: [http://127.0.0.1:5080/payments/]
          - name: chat
            capabilities: [message.send]
            arguments:
              type: object
              required: [channels, text]
              properties:
                channels: { type: array, items: { type: string } }
                text: { type: string }
            destinations:
              from: [/channels/*]
              channels: ["#support", "#support-*", "#ops"]
          - name: legacy
            status: suspended
        grants:
          - id: support-tickets
            agent: support-bot
            tool: ticketing
          - id: support-refunds
            agent: support-bot
            tool: payments
            constraints:
              - id: ceiling
                argument: /body/amountUsd
                max: 1000
                optional: true
              - id: floor
                argument: /body/amountUsd
                above: 0
                optional: true
              - id: small-change
                argument: /body/amountUsd
                min: 0.5
                optional: true
              - id: currency
                argument: /body/currency
                in: [USD, EUR]
                optional: true
              - id: order-format
                argument: /body/orderId
                pattern: "^ORD-[0-9]+$"
                maxLength: 12
                optional: true
              - id: not-too-much
                argument: /body/amountUsd
                below: 5000
                optional: true
            approval:
              id: large-refund
              when:
                - { argument: /method, in: [POST] }
                - { argument: /body/amountUsd, above: 100 }
              group: payments-approvers
              approvers: 2
              expires: 30m
              escalate: { group: finance-leads, after: 10m }
          - id: intern-tickets
            agent: intern-bot
            tool: ticketing
            constraints:
              - id: method
                argument: /method
                in: [GET]
          - id: retired-tickets
            agent: retired-bot
            tool: ticketing
          - id: notify-chat
            agent: notify-bot
            tool: chat
            destinations:
              channels: ["#support", "#support-*"]
            approval:
              group: comms
          - id: support-legacy
            agent: support-bot
            tool: legacy
        limits:
          default:
            callsPerMinute: 60
            run: { maxToolCalls: 20, maxRetries: 2, maxDuration: 1h }
          agents:
            intern-bot: { callsPerMinute: 5 }
          tools:
            payments: { callsPerMinute: 30 }
        budgets:
          default: { perDayUsd: 1, perRunUsd: 0.25 }
          agents:
            support-bot: { perDayUsd: 10 }
        """;

    public static readonly PolicySnapshot Policy = Load();

    static PolicySnapshot Load()
    {
        var result = PolicyLoader.Parse(Yaml, "test.yaml");
        return result.Policy ?? throw new InvalidOperationException(string.Join("\n", result.Errors));
    }

    public static ActionProposed Proposal(string agent, string tool, string arguments, string? actionId = null, string runId = "run-1") =>
        new(actionId ?? "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", runId, agent, tool, JsonDocument.Parse(arguments).RootElement.Clone());

    public const string Ticket = """{"method":"POST","url":"http://127.0.0.1:5080/ticketing/tickets","body":{"title":"t"}}""";

    public static string Refund(string amount, string extra = "") =>
        """{"method":"POST","url":"http://127.0.0.1:5080/payments/refunds","body":{"orderId":"ORD-1","amountUsd":""" + amount + extra + "}}";
}
