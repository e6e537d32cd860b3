namespace AgentBus.Hostile;

/// <summary>What the message's AMQP user_id says about who sent it.</summary>
enum UserIdMode
{
    /// <summary>The publishing connection's own user, as the contract asks.</summary>
    Own,

    /// <summary>No user_id at all: denied identity_missing, answered only in the audit.</summary>
    Missing,

    /// <summary>Another user's name: RabbitMQ refuses the publish (406) and closes the channel.</summary>
    Spoofed,
}

/// <summary>
/// One message of the run: its bytes and AMQP properties, what it tries, and what the run learned
/// about it (replies are recorded under the case's lock: they arrive on the agents' consumer threads).
/// </summary>
sealed class HostileCase
{
    public required int Index { get; init; }
    public required string Category { get; init; }
    public required string Variant { get; init; }
    public required bool Valid { get; init; }
    public required byte[] Body { get; init; }

    /// <summary>Index of the publishing agent.</summary>
    public required int Agent { get; init; }

    public UserIdMode UserId { get; init; } = UserIdMode.Own;
    public string? SpoofedUserId { get; init; }

    /// <summary>The content_type property; null leaves it out.</summary>
    public string? ContentType { get; init; } = "application/json";

    public string? ContentEncoding { get; init; }

    /// <summary>The message_id property; null leaves it out (then only a readable actionId ties the reply to the case).</summary>
    public string? MessageId { get; init; }

    public string? Type { get; init; } = "ActionProposed";
    public Dictionary<string, object?>? Headers { get; init; }

    /// <summary>The action id the body carries (readable or not): an outcome under it means the action ran.</summary>
    public required string ActionId { get; init; }

    /// <summary>Reason codes this case should be refused with (any one of them); "allowed" for a valid case. Empty: any refusal.</summary>
    public IReadOnlyList<string> Expected { get; init; } = [];

    /// <summary>Sensitive values this case sends, in every form it sends them: none may be stored in the audit, raw tier included.</summary>
    public IReadOnlyList<string> Secrets { get; set; } = [];

    /// <summary>Shorter strings (a card group, an area code) occur in unrelated rows and would be false alarms.</summary>
    public const int MinSecretChars = 8;

    // What happened.
    public bool Confirmed;
    public bool BrokerRefused;
    public string? BrokerRefusal;
    public string? PublishError;
    public int Decisions;
    public string? Decision;
    public string? ReasonCode;
    public int Outcomes;
    public string? OutcomeType;
    public string? ErrorCode;
    public bool RepliedToOtherAgent;

    /// <summary>Where the audit has it: the proposal row's outcome and reason code, the decision row's reason code.</summary>
    public string? AuditProposal;
    public string? AuditProposalReason;
    public string? AuditDecisionReason;

    /// <summary>In an error or skipped queue: the queue and the fault's exception message.</summary>
    public string? ErrorQueue;
    public string? Fault;

    public bool AnsweredToAgent => Decision == "denied" && ReasonCode is { Length: > 0 };

    /// <summary>How a bad case was refused, for the counts; null when it was not.</summary>
    public string? Handling()
    {
        if (BrokerRefused)
            return "broker_refused";
        if (AnsweredToAgent)
            return "agent:" + ReasonCode;
        if (UserId == UserIdMode.Missing && AuditDecisionReason is { } audited)
            return "audit:" + audited;
        if (UserId == UserIdMode.Missing && AuditProposal == "malformed" && AuditProposalReason is { } malformed)
            return "audit:" + malformed;
        if (ErrorQueue is not null && Fault is not null)
            return "error_queue";
        return null;
    }

    /// <summary>The reason code a bad case was refused with, wherever it was found.</summary>
    public string RefusalCode() => Handling() switch
    {
        null => "(none)",
        "broker_refused" => BrokerRefusal?.Contains("max size", StringComparison.Ordinal) == true
            ? "broker_refused (406, max message size)" : "broker_refused (406, user_id)",
        "error_queue" => "error_queue",
        var h => h[(h.IndexOf(':') + 1)..],
    };
}
