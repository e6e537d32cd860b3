using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace AgentBus.SandboxApi;

public sealed record RecordedCall(
    long Sequence,
    DateTimeOffset ReceivedAt,
    string Method,
    string Path,
    int Status,
    bool Authorized,
    string? RunId,
    string? ActionId,
    string? IdempotencyKey,
    bool Replayed,
    string? Reference,
    JsonElement? Body);

/// <summary>Every call the sandbox received, in order: the ground truth for "executed exactly once".</summary>
public sealed class CallLog(IOptions<SandboxOptions> options)
{
    readonly ConcurrentQueue<RecordedCall> _calls = new();
    readonly ConcurrentDictionary<string, string> _referenceByKey = new(StringComparer.Ordinal);
    readonly Lock _fileLock = new();
    long _sequence;

    public IReadOnlyCollection<RecordedCall> Calls => _calls;

    public long NextSequence() => Interlocked.Increment(ref _sequence);

    /// <summary>The reference first created for this idempotency key, if the key was seen before.</summary>
    public string? Remember(string? idempotencyKey, string reference) =>
        idempotencyKey is null ? null : _referenceByKey.GetOrAdd(idempotencyKey, reference) is var first && first != reference ? first : null;

    public void Add(RecordedCall call)
    {
        _calls.Enqueue(call);
        if (options.Value.RecordFile is { Length: > 0 } file)
        {
            var line = JsonSerializer.Serialize(call) + "\n";
            lock (_fileLock)
                File.AppendAllText(file, line);
        }
    }

    public void Clear()
    {
        _calls.Clear();
        _referenceByKey.Clear();
    }
}
