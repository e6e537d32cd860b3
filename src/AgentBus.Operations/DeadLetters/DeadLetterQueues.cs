namespace AgentBus.Operations.DeadLetters;

/// <summary>MassTransit's naming: a service's queue Q moves faults to Q_error and unconsumed messages to Q_skipped.</summary>
public static class DeadLetterQueues
{
    public const string ErrorSuffix = "_error";
    public const string SkippedSuffix = "_skipped";

    public static bool IsDeadLetterQueue(string queue) =>
        queue.Length > SkippedSuffix.Length && (queue.EndsWith(ErrorSuffix, StringComparison.Ordinal) || queue.EndsWith(SkippedSuffix, StringComparison.Ordinal));

    /// <summary>The queue a dead letter came from: the dead-letter queue's name without its suffix.</summary>
    public static string SourceQueue(string deadLetterQueue)
    {
        if (deadLetterQueue.EndsWith(ErrorSuffix, StringComparison.Ordinal) && deadLetterQueue.Length > ErrorSuffix.Length)
            return deadLetterQueue[..^ErrorSuffix.Length];
        if (deadLetterQueue.EndsWith(SkippedSuffix, StringComparison.Ordinal) && deadLetterQueue.Length > SkippedSuffix.Length)
            return deadLetterQueue[..^SkippedSuffix.Length];
        throw new ArgumentException($"'{deadLetterQueue}' is not a dead-letter queue: its name must end in {ErrorSuffix} or {SkippedSuffix}.", nameof(deadLetterQueue));
    }

    /// <summary>
    /// The queue named by MassTransit's fault input address (rabbitmq://host/vhost/queue?options), or
    /// null when the header is missing or unreadable.
    /// </summary>
    public static string? QueueOfInputAddress(string? inputAddress)
    {
        if (string.IsNullOrWhiteSpace(inputAddress) || !Uri.TryCreate(inputAddress, UriKind.Absolute, out var uri))
            return null;
        var last = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        return last is null ? null : Uri.UnescapeDataString(last);
    }
}
