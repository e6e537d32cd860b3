using System.Globalization;
using System.Text;

namespace AgentBus.Benchmarks;

/// <summary>
/// A policy of the size the issue measures: 100 agents × 20 tools, every agent granted every tool.
/// Every tool has an argument schema and destination rules, every grant a numeric constraint, a
/// pattern and an approval condition, so the allowed path runs every pure step.
/// </summary>
public static class GeneratedPolicy
{
    public const int Agents = 100;
    public const int Tools = 20;

    public static string Agent(int i) => $"agent-{i:000}";

    public static string Tool(int i) => $"tool-{i:00}";

    public static string Yaml()
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("agents:");
        for (var a = 0; a < Agents; a++)
            yaml.AppendLine(CultureInfo.InvariantCulture, $"  - {{ id: {Agent(a)}, team: team-{a % 10}, status: active }}");

        yaml.AppendLine("tools:");
        for (var t = 0; t < Tools; t++)
        {
            yaml.AppendLine(CultureInfo.InvariantCulture, $$"""
                  - name: {{Tool(t)}}
                    capabilities: [{{(t % 2 == 0 ? "money.move" : "message.send")}}]
                    risk: high
                    unitCostUsd: 0.01
                    arguments:
                      type: object
                      required: [method, url, body]
                      additionalProperties: false
                      properties:
                        method: { enum: [GET, POST] }
                        url: { type: string, maxLength: 2048 }
                        body:
                          type: object
                          required: [orderId, amountUsd]
                          properties:
                            orderId: { type: string, maxLength: 40 }
                            amountUsd: { type: number, minimum: 0 }
                    destinations:
                      from: [/url]
                      hosts: [api-{{t}}.internal]
                      urlPrefixes: [http://127.0.0.1:5080/{{Tool(t)}}/, https://sandbox.example.com/{{Tool(t)}}/]
                """);
        }

        yaml.AppendLine("grants:");
        for (var a = 0; a < Agents; a++)
            for (var t = 0; t < Tools; t++)
                yaml.AppendLine(CultureInfo.InvariantCulture, $$"""
                      - id: g-{{a}}-{{t}}
                        agent: {{Agent(a)}}
                        tool: {{Tool(t)}}
                        constraints:
                          - { argument: /body/amountUsd, max: 1000 }
                          - { argument: /body/orderId, pattern: "^ORD-[0-9]+$" }
                        approval:
                          when: [{ argument: /body/amountUsd, above: 100 }]
                          group: approvers-{{t}}
                          approvers: 2
                          expires: 1h
                    """);

        yaml.AppendLine("""
            limits:
              default: { callsPerMinute: 600, run: { maxToolCalls: 100, maxRetries: 3, maxDuration: 1h } }
            budgets:
              default: { perDayUsd: 100, perRunUsd: 10 }
            """);
        return yaml.ToString();
    }
}
