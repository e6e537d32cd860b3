namespace AgentBus.SandboxApi.Shop;

/// <summary>
/// The shop's state: the seeded orders, refunds against them, tickets with their comments, and the
/// idempotency keys already served. One lock guards all of it; what leaves is an immutable record.
/// An idempotency key is remembered per operation, only once the operation succeeded: the same key
/// with the same request answers the first result again (200, replayed), with another request 409.
/// </summary>
public sealed class ShopStore
{
    public static readonly IReadOnlyList<Order> SeedOrders =
    [
        new("ORD-1001", "alice@example.com", "USD", 250.00m, 0.00m),
        new("ORD-1002", "bob@example.com", "USD", 80.00m, 0.00m),
        new("ORD-1003", "carol@example.com", "USD", 1200.00m, 0.00m),
        new("ORD-1004", "dave@example.com", "USD", 35.50m, 0.00m),
        new("ORD-1005", "erin@example.com", "USD", 499.99m, 0.00m),
    ];

    readonly TimeProvider _clock;
    readonly Lock _lock = new();
    readonly Dictionary<string, Order> _orders = new(StringComparer.Ordinal);
    readonly Dictionary<string, Refund> _refunds = new(StringComparer.Ordinal);
    readonly Dictionary<string, Ticket> _tickets = new(StringComparer.Ordinal);
    readonly Dictionary<(string Operation, string Key), (object Request, string Reference)> _idempotency = [];
    int _refundCount, _ticketCount, _commentCount;

    public ShopStore(TimeProvider clock)
    {
        _clock = clock;
        Reset();
    }

    /// <summary>
    /// Back to the seed: the five orders unrefunded, no refunds, no tickets, no keys, counters from 1.
    /// With <paramref name="restartIds"/> false the counters go on instead, so an id from before the
    /// reset never names what is made after it: a command still in flight from before (a test's last
    /// re-sent command) finds nothing, instead of changing a new refund.
    /// </summary>
    public void Reset(bool restartIds = true)
    {
        lock (_lock)
        {
            _orders.Clear();
            foreach (var order in SeedOrders)
                _orders[order.OrderId] = order;
            _refunds.Clear();
            _tickets.Clear();
            _idempotency.Clear();
            if (restartIds)
                _refundCount = _ticketCount = _commentCount = 0;
        }
    }

    public ShopResult GetOrder(string orderId)
    {
        lock (_lock)
            return _orders.TryGetValue(orderId, out var order) ? Found(order, orderId) : OrderNotFound(orderId);
    }

    public ShopResult RefundOrder(string orderId, RefundRequest request, string? idempotencyKey)
    {
        lock (_lock)
        {
            if (Replay("refundOrder", idempotencyKey, (orderId, request), id => Created(_refunds[id], id, RefundLocation(id), replayed: true)) is { } replay)
                return replay;
            if (!_orders.TryGetValue(orderId, out var order))
                return OrderNotFound(orderId);
            if (request.AmountUsd > order.RemainingUsd)
                return ShopResult.Error(409, "refund_exceeds_paid",
                    $"{request.AmountUsd:0.00} USD is more than the {order.RemainingUsd:0.00} USD of {orderId} not yet refunded (paid {order.PaidUsd:0.00}, refunded {order.RefundedUsd:0.00}).",
                    order.RemainingUsd);

            var refund = new Refund($"RF-{++_refundCount:D6}", orderId, request.AmountUsd, request.Reason, "succeeded", _clock.GetUtcNow());
            _refunds[refund.RefundId] = refund;
            _orders[orderId] = order with { RefundedUsd = order.RefundedUsd + refund.AmountUsd };
            Remember("refundOrder", idempotencyKey, (orderId, request), refund.RefundId);
            return Created(refund, refund.RefundId, RefundLocation(refund.RefundId), replayed: false);
        }
    }

    public ShopResult GetRefund(string refundId)
    {
        lock (_lock)
            return _refunds.TryGetValue(refundId, out var refund) ? Found(refund, refundId) : RefundNotFound(refundId);
    }

    public ShopResult CancelRefund(string refundId)
    {
        lock (_lock)
        {
            if (!_refunds.TryGetValue(refundId, out var refund))
                return RefundNotFound(refundId);
            if (refund.Status == "cancelled")
                return ShopResult.Error(409, "already_cancelled", $"{refundId} was cancelled at {refund.CancelledAt:O}; nothing changed.");

            refund = refund with { Status = "cancelled", CancelledAt = _clock.GetUtcNow() };
            _refunds[refundId] = refund;
            var order = _orders[refund.OrderId];
            _orders[refund.OrderId] = order with { RefundedUsd = order.RefundedUsd - refund.AmountUsd };
            return Found(refund, refundId);
        }
    }

    public ShopResult CreateTicket(TicketRequest request, string? idempotencyKey)
    {
        lock (_lock)
        {
            if (Replay("createTicket", idempotencyKey, request, id => Created(_tickets[id], id, TicketLocation(id), replayed: true)) is { } replay)
                return replay;

            var ticket = new Ticket($"TCK-{++_ticketCount:D6}", request.Title, request.Description, request.Priority, request.CustomerEmail,
                "open", null, [], _clock.GetUtcNow());
            _tickets[ticket.TicketId] = ticket;
            Remember("createTicket", idempotencyKey, request, ticket.TicketId);
            return Created(ticket, ticket.TicketId, TicketLocation(ticket.TicketId), replayed: false);
        }
    }

    public ShopResult GetTicket(string ticketId)
    {
        lock (_lock)
            return _tickets.TryGetValue(ticketId, out var ticket) ? Found(ticket, ticketId) : TicketNotFound(ticketId);
    }

    public ShopResult AddComment(string ticketId, CommentRequest request, string? idempotencyKey)
    {
        lock (_lock)
        {
            if (Replay("addComment", idempotencyKey, (ticketId, request),
                    id => Created(_tickets[ticketId].Comments.Single(c => c.CommentId == id), id, location: null, replayed: true)) is { } replay)
                return replay;
            if (!_tickets.TryGetValue(ticketId, out var ticket))
                return TicketNotFound(ticketId);
            if (ticket.Status == "closed")
                return ShopResult.Error(409, "ticket_closed", $"{ticketId} is closed ({ticket.Resolution}); a closed ticket takes no comments.");

            var comment = new Comment($"CMT-{++_commentCount:D6}", ticketId, request.Body, request.Visibility, _clock.GetUtcNow());
            _tickets[ticketId] = ticket with { Comments = [.. ticket.Comments, comment] };
            Remember("addComment", idempotencyKey, (ticketId, request), comment.CommentId);
            return Created(comment, comment.CommentId, location: null, replayed: false);
        }
    }

    public ShopResult CloseTicket(string ticketId, string resolution)
    {
        lock (_lock)
        {
            if (!_tickets.TryGetValue(ticketId, out var ticket))
                return TicketNotFound(ticketId);
            if (ticket.Status == "closed")
                return ShopResult.Error(409, "already_closed", $"{ticketId} was closed at {ticket.ClosedAt:O} ({ticket.Resolution}); nothing changed.");

            ticket = ticket with { Status = "closed", Resolution = resolution, ClosedAt = _clock.GetUtcNow() };
            _tickets[ticketId] = ticket;
            return Found(ticket, ticketId);
        }
    }

    /// <summary>Null for a key not seen yet; else the first result again, or a refusal when the key came with another request.</summary>
    ShopResult? Replay(string operation, string? key, object request, Func<string, ShopResult> replayed)
    {
        if (key is null || !_idempotency.TryGetValue((operation, key), out var first))
            return null;
        return first.Request.Equals(request)
            ? replayed(first.Reference)
            : ShopResult.Error(409, "idempotency_key_reused",
                $"This Idempotency-Key already created {first.Reference} with a different request; use a new key for a new {operation}.");
    }

    void Remember(string operation, string? key, object request, string reference)
    {
        if (key is not null)
            _idempotency[(operation, key)] = (request, reference);
    }

    static ShopResult Found(object body, string reference) => new(200, body, reference);

    static ShopResult Created(object body, string reference, string? location, bool replayed) =>
        new(replayed ? 200 : 201, body, reference, replayed, location);

    static string RefundLocation(string refundId) => $"/api/refunds/{refundId}";

    static string TicketLocation(string ticketId) => $"/api/tickets/{ticketId}";

    static ShopResult OrderNotFound(string orderId) =>
        ShopResult.Error(404, "order_not_found", $"There is no order {orderId}.");

    static ShopResult RefundNotFound(string refundId) =>
        ShopResult.Error(404, "refund_not_found", $"There is no refund {refundId}.");

    static ShopResult TicketNotFound(string ticketId) =>
        ShopResult.Error(404, "ticket_not_found", $"There is no ticket {ticketId}.");
}
