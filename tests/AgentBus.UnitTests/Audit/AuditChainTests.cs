using AgentBus.Audit.Chain;

namespace AgentBus.UnitTests.Audit;

public class AuditChainTests
{
    static readonly DateTimeOffset At = new(2026, 11, 24, 13, 30, 0, 141, TimeSpan.Zero);

    static AuditRecord Record() => new(1, Guid.Parse("0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f"), "ActionDecided", "a1", "run-1", "support-bot",
        "ticketing", "allowed", "allowed", "rule-1", "v1", "policy", "msg-1", null, 0.01m, """{"x":1}""", At, At.AddMilliseconds(5));

    [Fact]
    public void The_same_row_and_predecessor_give_the_same_hash()
    {
        var previous = AuditChain.Genesis.ToArray();
        Assert.Equal(AuditChain.Hash(previous, Record()), AuditChain.Hash(previous, Record()));
        Assert.Equal(AuditChain.HashSize, AuditChain.Hash(previous, Record()).Length);
    }

    public static TheoryData<string, Func<AuditRecord, AuditRecord>> Changes() => new()
    {
        { "event id", r => r with { EventId = Guid.NewGuid() } },
        { "event type", r => r with { EventType = "ActionFailed" } },
        { "action id", r => r with { ActionId = "a2" } },
        { "run id", r => r with { RunId = "run-2" } },
        { "agent", r => r with { AgentId = "intern-bot" } },
        { "tool", r => r with { Tool = "payments" } },
        { "outcome", r => r with { Outcome = "denied" } },
        { "reason code", r => r with { ReasonCode = "no_grant" } },
        { "rule", r => r with { RuleId = "rule-2" } },
        { "policy version", r => r with { PolicyVersion = "v2" } },
        { "actor", r => r with { Actor = "someone" } },
        { "correlation id", r => r with { CorrelationId = "msg-2" } },
        { "external reference", r => r with { ExternalReference = "TCK-1" } },
        { "cost", r => r with { CostUsd = 0.02m } },
        { "no cost", r => r with { CostUsd = null } },
        { "payload", r => r with { Payload = """{"x":2}""" } },
        { "occurred at", r => r with { OccurredAt = r.OccurredAt.AddTicks(10) } },
        { "recorded at", r => r with { RecordedAt = r.RecordedAt.AddTicks(10) } },
        { "null instead of empty", r => r with { ActionId = null } },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Changing_any_stored_column_changes_the_hash(string column, Func<AuditRecord, AuditRecord> change)
    {
        var previous = AuditChain.Genesis.ToArray();
        Assert.False(AuditChain.Hash(previous, Record()).AsSpan().SequenceEqual(AuditChain.Hash(previous, change(Record()))), column);
    }

    [Fact]
    public void The_hash_covers_the_previous_hash()
    {
        var other = new byte[AuditChain.HashSize];
        other[0] = 1;
        Assert.NotEqual(AuditChain.Hash(AuditChain.Genesis, Record()), AuditChain.Hash(other, Record()));
    }

    [Fact]
    public void Field_boundaries_cannot_be_shifted()
    {
        var previous = AuditChain.Genesis.ToArray();
        var a = Record() with { ActionId = "ab", RunId = "c" };
        var b = Record() with { ActionId = "a", RunId = "bc" };
        var c = Record() with { ActionId = "", RunId = null };
        var d = Record() with { ActionId = null, RunId = "" };
        Assert.NotEqual(AuditChain.Hash(previous, a), AuditChain.Hash(previous, b));
        Assert.NotEqual(AuditChain.Hash(previous, c), AuditChain.Hash(previous, d));
    }

    [Theory]
    [InlineData("0.010000", "0.01")]
    [InlineData("0.01", "0.01")]
    [InlineData("100.000000", "100")]
    [InlineData("0", "0")]
    [InlineData("0.000000", "0")]
    [InlineData("12.5", "12.5")]
    public void Costs_hash_as_their_shortest_text_as_PostgreSQL_trim_scale_prints_them(string stored, string text) =>
        Assert.Equal(text, AuditChain.CostText(decimal.Parse(stored, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Values_are_cut_to_what_PostgreSQL_keeps()
    {
        var precise = new DateTimeOffset(2026, 11, 24, 13, 30, 0, TimeSpan.FromHours(2)).AddTicks(1_234_567);
        var stored = AuditChain.ToStoredPrecision(precise);
        Assert.Equal(TimeSpan.Zero, stored.Offset);
        Assert.Equal(0, stored.Ticks % 10);
        Assert.Equal(precise.UtcTicks - 7, stored.UtcTicks);
        Assert.Equal(0.123457m, AuditChain.ToStoredPrecision(0.1234565m));
    }
}
