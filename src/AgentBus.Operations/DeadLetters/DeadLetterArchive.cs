using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using RabbitMQ.Client;

namespace AgentBus.Operations.DeadLetters;

/// <summary>Where purged dead letters go (table dead_letter_archive, migration 0400): kept, with why and by whom.</summary>
public sealed class DeadLetterArchive(string connectionString)
{
    const string Insert = """
        INSERT INTO dead_letter_archive (queue, message_key, message_id, message_type, exception_type, exception_message,
            faulted_at, action_id, run_id, original_sender, properties, headers, body, reason, operator)
        VALUES (@Queue, @MessageKey, @MessageId, @MessageType, @ExceptionType, @ExceptionMessage,
            @FaultedAt, @ActionId, @RunId, @OriginalSender, CAST(@Properties AS jsonb), CAST(@Headers AS jsonb), @Body, @Reason, @Operator)
        ON CONFLICT ON CONSTRAINT dead_letter_archive_once DO NOTHING
        RETURNING id
        """;

    const string Existing = """
        SELECT id FROM dead_letter_archive
        WHERE queue = @Queue AND message_key = @MessageKey AND faulted_at IS NOT DISTINCT FROM @FaultedAt
        """;

    /// <summary>
    /// Archives the messages in one transaction and returns each one's archive row id. A message
    /// already archived (the same dead-lettering, from a purge interrupted before its acknowledgement)
    /// keeps its row.
    /// </summary>
    public async Task<IReadOnlyList<long>> ArchiveAsync(IReadOnlyList<DeadLetter> messages, string reason, string operatorName, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(ct);
        }
        catch (NpgsqlException ex)
        {
            throw new DeadLetterException($"Cannot reach PostgreSQL to archive the messages: {ex.Message}");
        }
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var ids = new List<long>(messages.Count);
        try
        {
            foreach (var message in messages)
            {
                var row = new
                {
                    message.Queue,
                    MessageKey = message.Key,
                    message.MessageId,
                    message.MessageType,
                    ExceptionType = message.Failure,
                    message.ExceptionMessage,
                    message.FaultedAt,
                    message.ActionId,
                    message.RunId,
                    message.OriginalSender,
                    Properties = PropertiesJson(message.Properties),
                    Headers = HeadersJson(message.Properties),
                    message.Body,
                    Reason = reason,
                    Operator = operatorName,
                };
                var id = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(Insert, row, transaction, cancellationToken: ct))
                         ?? await connection.ExecuteScalarAsync<long>(new CommandDefinition(Existing, row, transaction, cancellationToken: ct));
                ids.Add(id);
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new DeadLetterException("Table dead_letter_archive does not exist: run `agentbus db migrate` first.");
        }
        await transaction.CommitAsync(ct);
        return ids;
    }

    public static string PropertiesJson(IReadOnlyBasicProperties p) => new JsonObject
    {
        ["messageId"] = p.IsMessageIdPresent() ? p.MessageId : null,
        ["correlationId"] = p.IsCorrelationIdPresent() ? p.CorrelationId : null,
        ["type"] = p.IsTypePresent() ? p.Type : null,
        ["contentType"] = p.IsContentTypePresent() ? p.ContentType : null,
        ["contentEncoding"] = p.IsContentEncodingPresent() ? p.ContentEncoding : null,
        ["userId"] = p.IsUserIdPresent() ? p.UserId : null,
        ["appId"] = p.IsAppIdPresent() ? p.AppId : null,
        ["replyTo"] = p.IsReplyToPresent() ? p.ReplyTo : null,
        ["timestamp"] = p.IsTimestampPresent() ? p.Timestamp.UnixTime : null,
        ["deliveryMode"] = p.IsDeliveryModePresent() ? (int)p.DeliveryMode : null,
        ["priority"] = p.IsPriorityPresent() ? p.Priority : null,
    }.ToJsonString();

    public static string HeadersJson(IReadOnlyBasicProperties p)
    {
        var headers = new JsonObject();
        if (p.Headers is not null)
            foreach (var (key, value) in p.Headers)
                headers[key] = Node(value);
        return headers.ToJsonString();
    }

    /// <summary>AMQP field values as JSON: strings (bytes that are valid UTF-8), numbers, booleans, tables, arrays; other bytes as base64.</summary>
    static JsonNode? Node(object? value) => value switch
    {
        null => null,
        byte[] bytes => Utf8(bytes) is { } text ? JsonValue.Create(text) : new JsonObject { ["base64"] = Convert.ToBase64String(bytes) },
        string text => JsonValue.Create(text),
        bool flag => JsonValue.Create(flag),
        int or long or short or byte or sbyte or uint or ushort or ulong => JsonValue.Create(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)),
        float or double or decimal => JsonValue.Create(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
        AmqpTimestamp stamp => JsonValue.Create(DateTimeOffset.FromUnixTimeSeconds(stamp.UnixTime)),
        IDictionary<string, object?> table => new JsonObject(table.Select(e => KeyValuePair.Create(e.Key, Node(e.Value)))),
        System.Collections.IEnumerable list => new JsonArray(list.Cast<object?>().Select(Node).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };

    static string? Utf8(byte[] bytes)
    {
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            return null;
        return Encoding.UTF8.GetString(bytes);
    }
}
