using System.Collections.Concurrent;
using System.Globalization;

namespace AgentBus.Testbed;

/// <summary>How an action ended, as its agent learned it.</summary>
public enum ActionEnd : byte
{
    None = 0,
    Succeeded = 1,
    Failed = 2,
    OutcomeUnknown = 3,
    Denied = 4,
}

/// <summary>
/// Every action a run proposes, by index: when it was meant to go out, when the broker confirmed it,
/// when its decision and its outcome reached the agent, and how it ended. Action ids carry the
/// index in their last 12 hex digits under a prefix unique to the run, so a reply finds its slot
/// without a lookup table (and a reply from another run is recognised as foreign).
/// </summary>
public sealed class ActionLedger
{
    readonly string _prefix;
    readonly long[] _sent;
    readonly long[] _confirmed;
    readonly long[] _decided;
    readonly long[] _outcome;
    readonly ActionEnd[] _end;
    readonly string?[] _decision;
    readonly ConcurrentDictionary<string, int> _reasons = new(StringComparer.Ordinal);
    int _foreign;

    public ActionLedger(int capacity)
    {
        Capacity = capacity;
        var random = Guid.NewGuid().ToString("N");
        _prefix = $"{random[..8]}-{random[8..12]}-7{random[13..16]}-8{random[17..20]}-";
        _sent = new long[capacity];
        _confirmed = new long[capacity];
        _decided = new long[capacity];
        _outcome = new long[capacity];
        _end = new ActionEnd[capacity];
        _decision = new string?[capacity];
    }

    public int Capacity { get; }

    public int Foreign => Volatile.Read(ref _foreign);

    /// <summary>Reason codes of every decision received, with counts.</summary>
    public IReadOnlyDictionary<string, int> Reasons => _reasons;

    public string ActionId(int index) => _prefix + index.ToString("x12", CultureInfo.InvariantCulture);

    public bool TryIndex(string? actionId, out int index)
    {
        index = -1;
        if (actionId is null || actionId.Length != 36 || !actionId.StartsWith(_prefix, StringComparison.Ordinal))
            return false;
        if (!int.TryParse(actionId.AsSpan(24), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out index) || index >= Capacity)
            return false;
        return true;
    }

    public void Sent(int index, long timestamp) => _sent[index] = timestamp;

    public void Confirmed(int index, long timestamp) => _confirmed[index] = timestamp;

    public long SentAt(int index) => _sent[index];

    public long ConfirmedAt(int index) => Volatile.Read(ref _confirmed[index]);

    public long DecidedAt(int index) => Volatile.Read(ref _decided[index]);

    public long OutcomeAt(int index) => Volatile.Read(ref _outcome[index]);

    public ActionEnd End(int index) => _end[index];

    public string? Decision(int index) => _decision[index];

    /// <summary>Raised when an action ends (first time only): its index.</summary>
    public event Action<int>? Ended;

    public void OnReply(AgentReply reply)
    {
        if (!TryIndex(reply.ActionId, out var index))
        {
            Interlocked.Increment(ref _foreign);
            return;
        }
        switch (reply.Type)
        {
            case "ActionDecided":
                if (Interlocked.CompareExchange(ref _decided[index], reply.ReceivedAt, 0) != 0)
                    return;
                _decision[index] = reply.ReasonCode;
                _reasons.AddOrUpdate(reply.ReasonCode ?? "(none)", 1, (_, n) => n + 1);
                if (reply.Decision == "denied")
                    Finish(index, ActionEnd.Denied, reply.ReceivedAt);
                break;
            case "ActionSucceeded":
                Finish(index, ActionEnd.Succeeded, reply.ReceivedAt);
                break;
            case "ActionFailed":
                Finish(index, reply.OutcomeUnknown ? ActionEnd.OutcomeUnknown : ActionEnd.Failed, reply.ReceivedAt);
                break;
        }
    }

    void Finish(int index, ActionEnd end, long at)
    {
        if (Interlocked.CompareExchange(ref _outcome[index], at, 0) != 0)
            return;
        _end[index] = end;
        Ended?.Invoke(index);
    }

    public int Count(ActionEnd end, int from, int to)
    {
        var n = 0;
        for (var i = from; i < to; i++)
            if (_end[i] == end && _outcome[i] != 0)
                n++;
        return n;
    }
}
