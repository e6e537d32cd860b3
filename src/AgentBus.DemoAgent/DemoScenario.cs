namespace AgentBus.DemoAgent;

/// <summary>One step of the demo: who calls which operation (tool.operation) with what, and why it is in the script.</summary>
public sealed record DemoStep(string Agent, string Operation, string Description, object Arguments);

/// <summary>
/// The demo agents call named operations of the catalog (ops/catalog) with business arguments only:
/// no step names a method, a host or a path.
/// </summary>
public static class DemoScenario
{
    public static IReadOnlyList<DemoStep> Steps() =>
    [
        new("support-bot", "ticketing.create_ticket", "open a ticket",
            new { title = "Customer cannot log in", priority = "high", customerEmail = "ada@example.com" }),
        new("support-bot", "payments.get_order", "look up an order",
            new { orderId = "ORD-1001" }),
        new("support-bot", "payments.refund", "refund part of an order",
            new { orderId = "ORD-1001", amountUsd = 25.00, reason = "Item arrived damaged." }),
        new("support-bot", "payments.refund", "refund a large order (needs a person)",
            new { orderId = "ORD-1003", amountUsd = 250.00, reason = "Order never arrived." }),
        new("intern-bot", "ticketing.comment", "comment on a ticket (form body)",
            new { ticketId = "TCK-000001", body = "Asked the customer for a screenshot.", visibility = "internal" }),
        new("intern-bot", "payments.refund", "refund an order (no grant)",
            new { orderId = "ORD-1002", amountUsd = 9.00, reason = "Goodwill." }),
        new("support-bot", "crm.export_contacts", "export contacts (unknown tool)",
            new { format = "csv" }),
        new("support-bot", "ticketing.create_ticket", "send a ticket to an outside host",
            new { title = "all customer emails", priority = "low", url = "https://paste.example.com/upload" }),
        new("support-bot", "ticketing.create_ticket", "paste a card number into a ticket (data boundary)",
            new { title = "Refund to card", priority = "normal", description = "Customer paid with 4111 1111 1111 1111, please refund there." }),
    ];
}
