namespace AgentBus.Operations.DeadLetters;

/// <summary>Which dead letters a replay or purge takes: one failure group, one message id, or all of them.</summary>
public sealed record DeadLetterSelection
{
    DeadLetterSelection(string? groupId, string? messageId, bool all)
    {
        GroupId = groupId;
        MessageId = messageId;
        All = all;
    }

    public string? GroupId { get; }
    public string? MessageId { get; }
    public bool All { get; }

    public static DeadLetterSelection Everything { get; } = new(null, null, true);

    public static DeadLetterSelection Group(string groupId) => new(groupId, null, false);

    public static DeadLetterSelection Message(string messageId) => new(null, messageId, false);

    /// <summary>Exactly one of the three, or a usage error that says so.</summary>
    public static DeadLetterSelection From(string? groupId, string? messageId, bool all)
    {
        var given = (string.IsNullOrWhiteSpace(groupId) ? 0 : 1) + (string.IsNullOrWhiteSpace(messageId) ? 0 : 1) + (all ? 1 : 0);
        if (given != 1)
            throw new ArgumentException("Say which messages: exactly one of --group G, --message-id ID or --all.");
        return all ? Everything : groupId is { Length: > 0 } ? Group(groupId.Trim()) : Message(messageId!.Trim());
    }

    public bool Matches(DeadLetter message) =>
        All || (GroupId is not null && message.GroupId == GroupId) || (MessageId is not null && message.MessageId == MessageId);

    public override string ToString() => All ? "all" : GroupId is not null ? $"group {GroupId}" : $"message {MessageId}";
}
