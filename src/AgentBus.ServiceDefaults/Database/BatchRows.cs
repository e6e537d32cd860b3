using System.Text.Json;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>
/// A batch's requests as one jsonb parameter, and its answers back in the requests' order: what a
/// <see cref="GroupCommit{TRequest,TAnswer}"/> statement sends and reads. The statement numbers the
/// requests itself (<c>jsonb_array_elements(@Requests) WITH ORDINALITY</c>, from 1) and answers each
/// under its number.
/// </summary>
public static class BatchRows
{
    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The requests as a JSON array, properties in snake_case, as <c>jsonb_to_record</c> reads them.</summary>
    public static string ToJson<TRequest>(IReadOnlyList<TRequest> requests) => JsonSerializer.Serialize(requests, Json);

    /// <summary>The answers in the requests' order, from rows numbered from 1; every request must have exactly one.</summary>
    public static TAnswer[] InRequestOrder<TAnswer>(int count, IEnumerable<(long Ordinal, TAnswer Answer)> rows)
    {
        var answers = new TAnswer[count];
        var answered = new bool[count];
        foreach (var (ordinal, answer) in rows)
        {
            if (ordinal < 1 || ordinal > count || answered[ordinal - 1])
                throw new InvalidOperationException($"A batch of {count} answered request {ordinal}, which it did not have or had answered.");
            (answers[ordinal - 1], answered[ordinal - 1]) = (answer, true);
        }
        if (Array.IndexOf(answered, false) is var missing and >= 0)
            throw new InvalidOperationException($"A batch of {count} left request {missing + 1} unanswered.");
        return answers;
    }
}
