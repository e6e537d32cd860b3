using System.Globalization;
using System.Threading.RateLimiting;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace AgentBus.Operations.DeadLetters;

public sealed record ReplayOptions(bool DryRun = false, double? RatePerSecond = null, int BatchSize = 100);

public enum ReplayOutcome
{
    Replayed,
    WouldReplay,
    /// <summary>The fault headers say it came from another queue than this dead-letter queue's own: left in place.</summary>
    LeftInPlace,
}

public sealed record ReplayedMessage(DeadLetter Message, ReplayOutcome Outcome, string Detail);

public sealed record ReplayReport(string Queue, string Target, IReadOnlyList<ReplayedMessage> Messages, IReadOnlyList<Guid> AuditEventIds)
{
    public int Replayed => Messages.Count(m => m.Outcome == ReplayOutcome.Replayed);
}

/// <summary>
/// Puts dead letters back on the queue they came from, through the replay exchange, as the
/// operator. Each message keeps its message id and properties (consumers are idempotent, so a
/// message that is replayed twice is processed once) and is acknowledged only after the broker
/// confirmed its copy, so a crash mid-replay loses nothing. Every batch is recorded in the audit
/// before its originals are acknowledged.
/// </summary>
public sealed class DeadLetterReplayer(TimeProvider clock)
{
    public const string ReplayedAtHeader = "AgentBus-Replayed-At";
    public const string ReplayedByHeader = "AgentBus-Replayed-By";
    public const string ReplayedFromHeader = "AgentBus-Replayed-From";

    public async Task<ReplayReport> ReplayAsync(OperatorBroker broker, string queue, DeadLetterSelection selection, string operatorName,
        ReplayOptions options, Action<ReplayedMessage>? progress, CancellationToken ct)
    {
        var target = DeadLetterQueues.SourceQueue(queue);
        var results = new List<ReplayedMessage>();
        var auditIds = new List<Guid>();
        // Copies published and not yet confirmed: a batch is confirmed together, which lets the
        // broker write them to disk together instead of one round trip per message.
        var inFlight = new List<(DeadLetter Message, Task Publish)>();
        using var limiter = options.RatePerSecond is { } rate ? RateLimit(rate) : null;

        await using var session = await broker.OpenAsync(queue, ct);

        var flushing = false;
        async Task Flush(CancellationToken token)
        {
            if (inFlight.Count == 0)
                return;
            flushing = true;
            try
            {
                await Task.WhenAll(inFlight.Select(p => p.Publish));
            }
            catch (Exception)
            {
                // Each copy's own outcome is looked at below; only confirmed ones count.
            }
            var confirmed = inFlight.Where(p => p.Publish.IsCompletedSuccessfully).Select(p => p.Message).ToList();
            var failed = inFlight.Select(p => p.Publish).FirstOrDefault(p => !p.IsCompletedSuccessfully);
            inFlight.Clear();

            if (confirmed.Count > 0)
            {
                auditIds.Add(await OperatorAudit.RecordAsync(session, operatorName, "dlq.replay", $"replay {selection} to {target}", confirmed, new
                {
                    Queue = queue,
                    Target = target,
                    Selection = selection.ToString(),
                    MessageIds = confirmed.Select(m => m.Key).ToList(),
                    ActionIds = confirmed.Select(m => m.ActionId).OfType<string>().Distinct().ToList(),
                    BrokerUser = BrokerIdentity.OperatorUser,
                }, clock, token));
                foreach (var message in confirmed)
                {
                    await session.AckAsync(message, token);
                    Report(new(message, ReplayOutcome.Replayed, $"to {target}"));
                }
            }
            flushing = false;
            if (failed is not null)
                await failed; // the first copy the broker did not confirm: its error stops the replay
        }

        try
        {
            while (await session.NextAsync(ct) is { } message)
            {
                if (!selection.Matches(message))
                    continue;

                var cameFrom = DeadLetterQueues.QueueOfInputAddress(message.InputAddress);
                if (cameFrom is not null && cameFrom != target)
                {
                    Report(new(message, ReplayOutcome.LeftInPlace, $"its fault headers say it came from {cameFrom}, not {target}"));
                    continue;
                }
                if (options.DryRun)
                {
                    Report(new(message, ReplayOutcome.WouldReplay, $"would go to {target}"));
                    continue;
                }

                if (limiter is not null)
                    using (await limiter.AcquireAsync(1, ct)) { }
                inFlight.Add((message, session.PublishAsync(WireNames.ReplayExchange, target,
                    ReplayProperties(message, operatorName, clock.GetUtcNow()), message.Body, ct)));
                if (inFlight.Count >= options.BatchSize)
                    await Flush(ct);
            }
            await Flush(ct);
        }
        catch when (inFlight.Count > 0 && !flushing)
        {
            // Whatever the broker confirmed is recorded and acknowledged even when the pass stops
            // early (Ctrl-C, a broken connection); the rest goes back to the queue untouched. If even
            // that fails, the originals stay too: a later replay repeats ids consumers already know.
            await Flush(CancellationToken.None);
            throw;
        }

        return new ReplayReport(queue, target, results, auditIds);

        void Report(ReplayedMessage item)
        {
            results.Add(item);
            progress?.Invoke(item);
        }
    }

    /// <summary>
    /// The replayed copy: the original's properties and headers with MassTransit's fault headers
    /// removed, published as the operator, with the sender's broker-validated identity carried in
    /// <see cref="BrokerIdentity.OriginalUserIdHeader"/> (which services believe only from the
    /// operator, through the replay exchange).
    /// </summary>
    public static BasicProperties ReplayProperties(DeadLetter message, string operatorName, DateTimeOffset now)
    {
        var original = message.Properties;
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (original.Headers is not null)
            foreach (var (key, value) in original.Headers)
                if (!key.StartsWith("MT-Fault-", StringComparison.OrdinalIgnoreCase)
                    && !key.Equals(DeadLetter.MoveReason, StringComparison.OrdinalIgnoreCase)
                    && !key.Equals(BrokerIdentity.OriginalUserIdHeader, StringComparison.OrdinalIgnoreCase)
                    && !key.StartsWith("x-dotnet-", StringComparison.Ordinal)) // RabbitMQ.Client's publish bookkeeping
                    headers[key] = value;

        var sender = original.IsUserIdPresent() && !string.IsNullOrEmpty(original.UserId) && original.UserId != BrokerIdentity.OperatorUser
            ? original.UserId
            : message.OriginalSender;
        if (sender is not null)
            headers[BrokerIdentity.OriginalUserIdHeader] = sender;
        headers[ReplayedAtHeader] = now.ToString("O", CultureInfo.InvariantCulture);
        headers[ReplayedByHeader] = operatorName;
        headers[ReplayedFromHeader] = message.Queue;

        return new BasicProperties(original)
        {
            UserId = BrokerIdentity.OperatorUser,
            Headers = headers,
            DeliveryMode = DeliveryModes.Persistent,
        };
    }

    /// <summary>Smooth pacing: small buckets refilled often, rather than a burst each second.</summary>
    static TokenBucketRateLimiter RateLimit(double perSecond)
    {
        var tokens = (int)Math.Max(1, Math.Ceiling(perSecond / 20));
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = tokens,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokens / perSecond),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }
}
